"""Executor logic against the cluster port with scripted states."""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.core.commands import DeployRequest
from bot.core.ports import ClusterError
from bot.core.readiness import FailFast
from tests.executor.conftest import Rig


def deploy(rig: Rig, *, cluster: str = "dev-cluster", name: str | None = None, **sets: str) -> int:
    ticket = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", version=None, cluster=cluster, name=name, sets=sets)
    )
    assert ticket.run_id is not None
    rig.wait_idle()
    return ticket.run_id


def applied(rig: Rig) -> list[str]:
    return [what for verb, what in rig.cluster.calls if verb == "apply"]


def test_three_tier_deploys_bottom_up_and_publishes_outputs(rig: Rig) -> None:
    rig.create()
    run_id = deploy(rig)
    run = rig.store.get_run(run_id)
    assert run.status == "succeeded", run.error
    assert [t.state for t in run.tiers] == ["ready", "ready", "ready"]
    order = applied(rig)
    first_api = next(i for i, a in enumerate(order) if "/counter-app-api" in a)
    last_db = max(i for i, a in enumerate(order) if "postgres-db" in a)
    assert last_db < first_api, order
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.status == "ready" and dep.last_good_version == "1.0.0"
    db = dep.outputs["postgres-db"]
    assert db["PASSWORD"] == "••••••"
    assert db["POSTGRESMSTR_SVC"].endswith(".svc.cluster.local")
    # The api tier received the real generated password through the macro: in a Secret in its
    # own namespace, referenced from its env, never a literal in the Deployment.
    api = next(
        o for (k, _ns, n), o in rig.cluster.objects.items() if k == "Deployment" and n.endswith("-api")
    )
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    ref = next(e["valueFrom"]["secretKeyRef"] for e in env.values() if "valueFrom" in e)
    assert "pw-0000-s3cr3t-value" not in str(api)
    env_secret = next(
        o for (k, _ns, n), o in rig.cluster.objects.items() if k == "Secret" and n == ref["name"]
    )
    assert env_secret["metadata"]["namespace"] == api["metadata"]["namespace"]
    data = {
        **env_secret.get("stringData", {}),
        **{k: base64.b64decode(v).decode() for k, v in env_secret.get("data", {}).items()},
    }
    assert data[ref["key"]] == "pw-0000-s3cr3t-value"
    assert dep.inventory and all("hash" in i and "tier" in i for i in dep.inventory)


def test_generated_password_is_reused_on_redeploy(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    secret_before = dict(
        rig.cluster.read_secret("counter-app-postgres-db-ns", "counter-app-postgres-db-generated") or {}
    )
    assert secret_before
    deploy(rig)
    secret_after = rig.cluster.read_secret("counter-app-postgres-db-ns", "counter-app-postgres-db-generated")
    assert secret_after == secret_before
    # Only one password was ever generated for the postgres tier.
    assert next(rig.passwords) == "pw-0001-s3cr3t-value"


def test_failed_rollout_names_tier_object_and_reason(rig: Rig) -> None:
    rig.create()
    rig.cluster.break_rollout(
        "Deployment", "counter-app-api", "ImagePullBackOff", message="Back-off pulling image"
    )
    # The executor's own setting reaches the wait: a grace shorter than its 5 s timeout.
    rig.executor.fail_fast = FailFast(image_pull_grace=2, pod_check_interval=1)
    run = rig.store.get_run(deploy(rig))
    assert run.status == "failed"
    assert run.error is not None and "api" in run.error and "ImagePullBackOff" in run.error
    # Said once each: the tier, the object, the pod's reason; no timeout for a fast failure.
    assert run.error.startswith("api: Deployment counter-app-api-ns/counter-app-api: pod counter-app-api-0 ")
    assert run.error.count("counter-app-api-ns/counter-app-api") == 1 and "after" not in run.error
    assert [t.state for t in run.tiers] == ["ready", "failed", "pending"]
    assert any(kind == "detail" and "ImagePullBackOff" in text for kind, _, text in rig.reporter.events)
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.status == "failed"
    assert not any("counter-app-ui" in a for a in applied(rig))


def test_forbidden_apply_reports_verb_resource_and_hint(rig: Rig) -> None:
    rig.create()
    rig.cluster.faults[("apply", "StatefulSet/counter-app-postgres-db")] = ClusterError(
        "forbidden: cannot patch statefulsets in counter-app-postgres-db-ns",
        status=403,
        hint="the bot's service account needs `patch` on `statefulsets`",
    )
    run = rig.store.get_run(deploy(rig))
    assert run.status == "failed"
    assert "cannot patch statefulsets" in (run.error or "")
    assert any("service account" in text for kind, _, text in rig.reporter.events if kind == "detail")


def test_resume_continues_from_the_last_completed_tier(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.create()
    rig.cluster.hold("Deployment", "counter-app-api")
    # Simulate a crash: run the first tier, then mark the run running again at tier 1.
    run_id = deploy(rig)
    run = rig.store.get_run(run_id)
    assert run.next_tier == 1
    rig.store.update_run(run_id, status="running", error=None)
    rig.cluster.release("Deployment", "counter-app-api")
    calls_before = len(rig.cluster.calls)
    # A restarted bot (a new executor) over the same database file, cluster and reporter.
    restarted = rig.restart()
    assert restarted.resume(alone=True) == 1
    rig.wait_idle()
    run = rig.store.get_run(run_id)
    assert run.status == "succeeded", run.error
    later = [w for v, w in rig.cluster.calls[calls_before:] if v == "apply"]
    assert not any("StatefulSet" in w for w in later), "completed tier was re-applied"
    # The same progress message is reused: no second `started`.
    assert [e for e in rig.reporter.events if e[0] == "started" and e[1] == run_id] == [
        ("started", run_id, "")
    ]


def test_queued_runs_for_one_deployment_run_one_at_a_time(rig: Rig) -> None:
    rig.create()
    pool = rig.pool
    # Hold the first run in its first tier until the second request is queued behind it.
    gate = threading.Event()
    rig.cluster.on_apply = lambda obj: gate.wait(10)
    req = DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    first = rig.service.deploy(rig.actor, req)
    second = rig.service.deploy(rig.actor, req)
    assert second.queued_position == 1
    # Both messages are in the channel at once: the second shows its place before it runs.
    posted = [e[1] for e in rig.reporter.events if e[0] == "started"]
    assert posted == [first.run_id, second.run_id]
    assert rig.store.get_run(second.run_id or 0).status == "queued"
    gate.set()
    pool.shutdown(wait=True)
    a, b = rig.store.get_run(first.run_id or 0), rig.store.get_run(second.run_id or 0)
    assert a.status == b.status == "succeeded"
    events = rig.reporter.events
    assert events.index(("finished", a.id, "")) < next(
        i for i, e in enumerate(events) if e[0] == "changed" and e[1] == b.id
    )


def test_new_version_prunes_removed_tier(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    assert any("counter-app-ui" in a for a in applied(rig))
    v1 = rig.store.get_version("counter-app").profile()
    v2 = v1.model_copy(update={"version": "1.1.0", "tiers": v1.tiers[:2]})
    from bot.core import model

    rig.service.new_version(rig.actor, "counter-app", "1.1.0", yaml_text=model.to_yaml(v2))
    _, p = rig.service.preview(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    pruned = [c.ref.name for c in p.changes if c.action == "prune"]
    assert pruned and all("counter-app-ui" in n for n in pruned)
    run = rig.store.get_run(deploy(rig))
    assert run.status == "succeeded"
    assert not any(n.endswith("-ui") for (_k, _ns, n) in rig.cluster.objects)
    deletes = [w for v, w in rig.cluster.calls if v == "delete"]
    assert deletes and all("counter-app-ui" in d for d in deletes)


def test_delete_tears_down_in_reverse_and_keeps_pvcs(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    pvcs_before = [k for k in rig.cluster.objects if k[0] == "PersistentVolumeClaim"]
    msg = rig.service.delete(rig.actor, "counter-app", None)
    assert "Deleting" in msg
    rig.wait_idle()
    deletes = [w for v, w in rig.cluster.calls if v == "delete"]
    tiers_order = []
    for d in deletes:
        tier = "ui" if "-ui" in d else "api" if "-api" in d else "postgres-db"
        if tier not in tiers_order:
            tiers_order.append(tier)
    assert tiers_order == ["ui", "api", "postgres-db"]
    assert [k for k in rig.cluster.objects if k[0] == "PersistentVolumeClaim"] == pvcs_before
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.status == "deleted"


def test_slack_outage_never_fails_a_deploy(tmp_path: Path) -> None:
    rig = Rig(tmp_path, reporter_fails=True)
    rig.create()
    run = rig.store.get_run(deploy(rig))
    assert run.status == "succeeded"


def test_no_generated_password_in_reports_store_or_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.create()
    rig.cluster.break_rollout(
        "Deployment",
        "counter-app-api",
        "CreateContainerError",
        message="env DB_PASSWORD=pw-0000-s3cr3t-value rejected",
    )
    run_id = deploy(rig)
    secret = "pw-0000-s3cr3t-value"
    run = rig.store.get_run(run_id)
    assert secret not in (run.error or "")
    assert secret not in json.dumps(rig.reporter.events)
    assert all(secret not in s for s in rig.reporter.snapshots)
    assert secret not in caplog.text
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and secret not in dep.model_dump_json()
    assert all(secret not in e.model_dump_json() for e in rig.store.list_audit(limit=100))


def test_update_available_and_upgrade(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    [view] = rig.service.status(rig.actor, "counter-app")
    assert view.update is None
    rig.service.new_version(rig.actor, "counter-app", "1.1.0")
    [view] = rig.service.status(rig.actor, "counter-app")
    assert view.update == "1.1.0"
    assert rig.service.deployments(rig.actor)[0].update == "1.1.0"
    ticket = rig.service.upgrade(rig.actor, "dev-cluster", "counter-app")
    rig.wait_idle()
    assert rig.store.get_run(ticket.run_id or 0).status == "succeeded"
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.version == "1.1.0"
    [view] = rig.service.status(rig.actor, "counter-app")
    assert view.update is None


def test_retry_and_rollback_to_the_last_good_version(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    rig.service.new_version(rig.actor, "counter-app", "1.1.0")
    rig.cluster.break_rollout("Deployment", "counter-app-api", "CrashLoopBackOff", restarts=5)
    failed = rig.store.get_run(deploy(rig))
    assert failed.status == "failed" and failed.version == "1.1.0"
    assert "keeps crashing (CrashLoopBackOff, 5 restarts)" in (failed.error or "")
    back = rig.service.retry(rig.actor, failed.id, rollback=True)
    rig.cluster.release("Deployment", "counter-app-api")
    rig.wait_idle()
    run = rig.store.get_run(back.run_id or 0)
    assert run.kind == "rollback" and run.version == "1.0.0" and run.status == "succeeded"
    again = rig.service.retry(rig.actor, failed.id)
    rig.wait_idle()
    assert rig.store.get_run(again.run_id or 0).version == "1.1.0"


def test_a_failed_first_deploy_can_still_be_deleted_completely(rig: Rig) -> None:
    rig.create()
    rig.cluster.break_rollout("Deployment", "counter-app-api", "CreateContainerConfigError", message="boom")
    assert rig.store.get_run(deploy(rig)).status == "failed"
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None
    assert {i["tier"] for i in dep.inventory} == {"postgres-db", "api"}
    rig.service.delete(rig.actor, "counter-app", None)
    rig.wait_idle()
    left = {(k, n) for (k, _ns, n) in rig.cluster.objects}
    assert not any(k in ("Deployment", "StatefulSet", "Service") for k, _ in left), left
    # Kept without --purge: the data and the passwords it was written with.
    assert ("Secret", "counter-app-postgres-db-generated") in left


def test_objects_of_a_failed_newer_version_are_pruned_by_the_rollback(rig: Rig) -> None:
    rig.create()
    deploy(rig)
    v1 = rig.store.get_version("counter-app").profile()
    extra = v1.tiers[1].model_copy(update={"name": "worker"})
    from bot.core import model

    v2 = v1.model_copy(update={"version": "1.1.0", "tiers": [*v1.tiers, extra]})
    rig.service.new_version(rig.actor, "counter-app", "1.1.0", yaml_text=model.to_yaml(v2))
    rig.cluster.break_rollout("Deployment", "counter-app-worker", "CreateContainerConfigError", message="x")
    failed = rig.store.get_run(deploy(rig))
    assert failed.status == "failed"
    assert any(n == "counter-app-worker" for (_k, _ns, n) in rig.cluster.objects)
    back = rig.service.retry(rig.actor, failed.id, rollback=True)
    rig.wait_idle()
    run = rig.store.get_run(back.run_id or 0)
    assert run.status == "succeeded"
    assert any(c["action"] == "prune" and "worker" in c["ref"]["name"] for c in run.plan["changes"])
    assert not any("worker" in n for (_k, _ns, n) in rig.cluster.objects)


def test_a_replica_that_lost_its_lease_stops_at_its_next_step_without_a_word(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.create()

    def taken_over(obj: dict[str, Any]) -> None:
        # This replica stalled past its lease while applying the api; another took the run over.
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "counter-app-api":
            [run] = rig.store.runs_with_status("running")
            rig.store.update_run(run.id, lease_expires_at="2000-01-01T00:00:00Z")
            assert rig.store.take_over(run.id, "another-replica", 30) is not None

    rig.cluster.on_apply = taken_over
    with caplog.at_level(logging.WARNING, logger="appprofile.executor"):
        run_id = deploy(rig)
    run = rig.store.get_run(run_id)
    # Not failed, not finished: the run is the other replica's to finish, on the same message.
    assert (run.status, run.lease_owner, run.error) == ("running", "another-replica", None)
    assert [t.state for t in run.tiers] == ["ready", "applying", "pending"]
    assert ("finished", run_id, "") not in rig.reporter.events
    assert not any("counter-app-ui" in what for what in applied(rig))
    assert "another replica took the run over; stopped" in caplog.text


def test_a_dead_replicas_run_is_taken_over_and_finished_on_its_message(rig: Rig) -> None:
    rig.create()
    rig.cluster.hold("Deployment", "counter-app-api")
    run_id = deploy(rig)  # the api never gets ready: the run fails at the wait timeout
    rig.cluster.release("Deployment", "counter-app-api")
    # As if a replica had claimed it and died mid-tier: running, leased to nobody alive.
    rig.store.update_run(
        run_id,
        status="running",
        error=None,
        lease_owner="dead-replica",
        lease_expires_at="2000-01-01T00:00:00Z",
    )
    ts = rig.store.get_run(run_id).message_ts
    assert rig.executor.sweep() == 1
    rig.wait_idle()
    run = rig.store.get_run(run_id)
    assert (run.status, run.message_ts, run.lease_owner) == ("succeeded", ts, rig.executor.owner)
    # Nothing posted again: the same progress message was updated to the end.
    assert [e for e in rig.reporter.events if e[0] == "started" and e[1] == run_id] == [
        ("started", run_id, "")
    ]
    assert rig.executor.sweep() == 0  # an unexpired lease (now ours, finished) is not taken again
