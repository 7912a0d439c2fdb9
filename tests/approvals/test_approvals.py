"""Each approval rule of DESIGN §5, exercised through signed Slack requests into the real app."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bot.core.records import Run
from bot.usecases.service import Service
from tests.approvals.conftest import (
    APPROVER_A,
    APPROVER_B,
    EXAMPLE,
    LEAD,
    OUTSIDER,
    PROD_CHANNEL,
    REQUESTER,
    World,
    card_value,
    text_of,
)
from tests.rig import SlackDriver


def request(
    world: World, driver: SlackDriver, *, user: str = REQUESTER, create: bool = True
) -> tuple[int, str]:
    """Create the example (once) and ask to deploy it to prod; return (run id, card button value)."""
    if create:
        since = len(world.fake.calls)
        assert driver.command(f"create ```{EXAMPLE}```", user=user, channel=PROD_CHANNEL).status == 200
        world.fake.wait_for("chat.postMessage", lambda c: "counter-app" in text_of(c), 10, since=since)
    since = len(world.fake.calls)
    reply = driver.command("deploy counter-app to prod", user=user, channel=PROD_CHANNEL)
    assert reply.status == 200
    card = world.fake.wait_for(
        "chat.postMessage", lambda c: "Approval: deploy to prod" in text_of(c), 10, since=since
    )
    value = card_value(card.params)
    # The requester is told privately; the plan itself is on the card in the channel.
    driver.answer(reply, "Approval requested")
    return int(json.loads(value)["run"]), value


def click(world: World, driver: SlackDriver, value: str, user: str, action: str = "approval_approve") -> str:
    reply = driver.click(
        {"type": "button", "action_id": action, "block_id": "b", "value": value},
        user=user,
        channel=PROD_CHANNEL,
    )
    assert reply.status == 200
    return text_of(driver.answer(reply))


def card_updates(world: World, run: Run) -> list[dict[str, Any]]:
    return [c.params for c in world.fake.calls_to("chat.update") if c.params.get("ts") == run.approval_ts]


def has_buttons(params: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in params.get("blocks") or [])


def applied(world: World) -> list[str]:
    return [w for v, w in world.cluster.calls if v == "apply"]


def test_card_shows_plan_and_nothing_runs_before_approval(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, _ = request(world, driver)
    card = world.fake.calls_to("chat.postMessage")[-1].params
    body = text_of(world.fake.calls_to("chat.postMessage")[-1])
    run = service.store.get_run(run_id)
    assert run.status == "awaiting_approval"
    for needle in (
        f"<@{REQUESTER}>",
        "counter-app@1.0.0",
        "prod",
        "to create",
        run.fingerprint[:12],
        "0 of 1",
        "Expires",
    ):
        assert needle in body, needle
    buttons = next(b for b in card["blocks"] if b["type"] == "actions")["elements"]
    assert all("confirm" in b for b in buttons)
    assert applied(world) == []


def test_other_approver_approves_and_the_deploy_runs(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "Approved" in click(world, driver, value, APPROVER_A)
    run = world.run_ended(run_id)
    assert run.status == "succeeded", run.error
    assert applied(world)
    # The card is rewritten once the run has ended (after its status is stored): wait for it.
    last = world.fake.wait_for(
        "chat.update",
        lambda c: c.params.get("ts") == run.approval_ts and "Approved — deployed" in text_of(c),
        10,
    ).params
    assert not has_buttons(last)
    assert any(e.action == "approve" and e.actor == APPROVER_A for e in service.store.list_audit(limit=50))


def test_requester_cannot_approve_own_request(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "your approval cannot count" in click(world, driver, value, REQUESTER)
    assert service.store.get_run(run_id).status == "awaiting_approval"
    assert service.store.approvals(run_id) == []


def test_self_approval_when_allowed(make_world: Any) -> None:
    world: World = make_world(self_approval=True)
    _service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "Approved" in click(world, driver, value, REQUESTER)
    assert world.run_ended(run_id).status == "succeeded"


def test_only_listed_approvers_count(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "not an approver" in click(world, driver, value, OUTSIDER)
    assert service.store.get_run(run_id).status == "awaiting_approval"
    denied = [e for e in service.store.list_audit(limit=50) if e.actor == OUTSIDER]
    assert denied and denied[0].result == "denied"


def test_usergroup_member_counts_via_usergroups_users_list(make_world: Any) -> None:
    world: World = make_world()
    _service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "Approved" in click(world, driver, value, LEAD)
    assert world.run_ended(run_id).status == "succeeded"
    assert world.fake.calls_to("usergroups.users.list")


def test_double_click_changes_nothing_and_n_of_m_needs_distinct_people(make_world: Any) -> None:
    world: World = make_world(required=2)
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "1 of 2" in click(world, driver, value, APPROVER_A)
    assert "already decided" in click(world, driver, value, APPROVER_A)
    assert service.store.get_run(run_id).status == "awaiting_approval"
    assert len(service.store.approvals(run_id)) == 1
    assert "Approved" in click(world, driver, value, APPROVER_B)
    run = world.run_ended(run_id)
    assert run.status == "succeeded"
    world.fake.wait_for(
        "chat.update",
        lambda c: c.params.get("ts") == run.approval_ts and f"<@{APPROVER_A}>, <@{APPROVER_B}>" in text_of(c),
        10,
    )


def test_approval_counts_only_for_the_fingerprint_on_the_card(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, _value = request(world, driver)
    forged = json.dumps({"run": run_id, "fp": "0" * 64})
    assert "different plan" in click(world, driver, forged, APPROVER_A)
    assert service.store.get_run(run_id).status == "awaiting_approval"


def test_forged_and_stale_button_values_are_refused(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "out of date" in click(world, driver, "not json", APPROVER_A)
    assert "out of date" in click(world, driver, json.dumps({"run": "1; drop", "fp": "x"}), APPROVER_A)
    missing = json.dumps({"run": 999, "fp": json.loads(value)["fp"]})
    assert (
        "999" in click(world, driver, missing, APPROVER_A)
        or "no run" in click(world, driver, missing, APPROVER_A).lower()
    )
    assert service.store.get_run(run_id).status == "awaiting_approval"
    assert service.store.approvals(run_id) == []


def test_reject_ends_the_request(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    assert "Rejected" in click(world, driver, value, APPROVER_A, action="approval_reject")
    run = service.store.get_run(run_id)
    assert run.status == "rejected"
    last = card_updates(world, run)[-1]
    assert "Rejected" in json.dumps(last, ensure_ascii=False) and not has_buttons(last)
    assert "no longer waiting" in click(world, driver, value, APPROVER_B)
    assert applied(world) == []


def test_newer_request_supersedes_the_pending_one(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    first, old_value = request(world, driver)
    second, _ = request(world, driver, create=False)
    assert second != first
    old = service.store.get_run(first)
    assert old.status == "superseded"
    last = card_updates(world, old)[-1]
    assert "Superseded" in json.dumps(last, ensure_ascii=False) and not has_buttons(last)
    assert "no longer waiting" in click(world, driver, old_value, APPROVER_A)


def test_expiry_rewrites_the_card_and_survives_a_restart(make_world: Any) -> None:
    world: World = make_world(expires="10m")
    _service, driver = world.boot()
    run_id, value = request(world, driver)
    world.clock.now += 11 * 60
    # A restarted bot: a fresh service over the same database file sweeps on start-up.
    restarted, driver2 = world.boot()
    assert restarted.expire_due() == [run_id]
    run = restarted.store.get_run(run_id)
    assert run.status == "expired"
    last = card_updates(world, run)[-1]
    assert "Expired" in json.dumps(last, ensure_ascii=False) and not has_buttons(last)
    assert "no longer waiting" in click(world, driver2, value, APPROVER_A)
    assert any(e.action == "expire" for e in restarted.store.list_audit(limit=50))


def test_deploy_from_a_channel_the_cluster_does_not_allow_is_refused(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    since = len(world.fake.calls)
    driver.command(f"create ```{EXAMPLE}```", user=REQUESTER, channel="C0OTHER")
    world.fake.wait_for("chat.postMessage", lambda c: "counter-app" in text_of(c), 10, since=since)
    answer = driver.answer(driver.command("deploy counter-app to prod", user=REQUESTER, channel="C0OTHER"))
    assert "not allowed from this channel" in text_of(answer)
    assert f"<#{PROD_CHANNEL}>" in text_of(answer)
    assert service.store.runs_with_status("awaiting_approval", "queued", "running") == []


def test_an_approval_click_from_a_channel_the_cluster_does_not_allow_counts_nothing(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    reply = driver.click(
        {"type": "button", "action_id": "approval_approve", "block_id": "b", "value": value},
        user=APPROVER_A,
        channel="C0OTHER",
    )
    answer = text_of(driver.answer(reply))
    assert "do not count from this channel" in answer and "`channels` rule" in answer
    assert f"<#{PROD_CHANNEL}>" in answer
    assert service.store.approvals(run_id) == []
    assert service.store.get_run(run_id).status == "awaiting_approval"
    assert any(e.actor == APPROVER_A and e.result == "denied" for e in service.store.list_audit(limit=50))
    # The same click from the cluster's channel counts.
    assert "Approved" in click(world, driver, value, APPROVER_A)


def test_access_list_with_usergroup(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    request(world, driver)
    answer = driver.answer(driver.command("delete counter-app@1.0.0", user=OUTSIDER, channel=PROD_CHANNEL))
    # The delete confirmation is shown first; the use case re-checks on the confirmed click.
    value = next(
        el["value"]
        for b in answer.params.get("blocks", [])
        if b.get("type") == "actions"
        for el in b["elements"]
        if el.get("action_id") == "appprofile_delete"
    )
    clicked = driver.click(
        {"type": "button", "action_id": "appprofile_delete", "block_id": "b", "value": value},
        user=OUTSIDER,
        channel=PROD_CHANNEL,
    )
    body = text_of(driver.answer(clicked))
    assert "not allowed to delete" in body
    assert service.store.list_versions("counter-app")


def test_audit_command_and_cli_json_lines(make_world: Any) -> None:
    world: World = make_world()
    _service, driver = world.boot()
    run_id, value = request(world, driver)
    click(world, driver, value, APPROVER_A)
    assert world.run_ended(run_id).status == "succeeded"
    body = text_of(
        driver.answer(driver.command("audit 20 --cluster prod", user=OUTSIDER, channel=PROD_CHANNEL))
    )
    assert "approve" in body and "deploy" in body
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "--cluster", "prod"],
        env={"APPPROFILE_DB": str(world.tmp / "app.db"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["action"] for r in rows} >= {"deploy", "approve"}
    assert all({"at", "actor", "channel", "action", "target", "result"} <= set(r) for r in rows)


def _deployed_on_prod(world: World, service: Service, driver: SlackDriver) -> None:
    run_id, value = request(world, driver)
    click(world, driver, value, APPROVER_A)
    assert world.run_ended(run_id).status == "succeeded"


def _delete_confirm(world: World, driver: SlackDriver, user: str, channel: str) -> tuple[str, str]:
    """Ask to delete deployment `counter-app` on prod; return (the confirm text shown, the Delete button's value)."""
    answer = driver.answer(driver.command("delete counter-app from prod", user=user, channel=channel))
    value = next(
        el["value"]
        for b in answer.params["blocks"]
        if b.get("type") == "actions"
        for el in b["elements"]
        if el.get("action_id") == "appprofile_delete"
    )
    return text_of(answer), value


def test_deleting_a_protected_deployment_needs_approval(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    _deployed_on_prod(world, service, driver)
    shown, value = _delete_confirm(world, driver, APPROVER_A, PROD_CHANNEL)
    assert "tears down deployment *counter-app* on `prod`" in shown and "needs approval" in shown
    since = len(world.fake.calls)
    driver.click(
        {"type": "button", "action_id": "appprofile_delete", "block_id": "b", "value": value},
        user=APPROVER_A,
        channel=PROD_CHANNEL,
    )
    card = world.fake.wait_for(
        "chat.postMessage", lambda c: "Approval: delete from prod" in text_of(c), 10, since=since
    )
    run = service.store.runs_with_status("awaiting_approval")[0]
    assert run.kind == "delete" and "to prune" in text_of(card)
    deletes_before = [c for c in world.cluster.calls if c[0] == "delete"]
    assert deletes_before == []
    # The requester cannot approve their own teardown; another approver can.
    assert "your approval cannot count" in click(world, driver, card_value(card.params), APPROVER_A)
    assert "Approved" in click(world, driver, card_value(card.params), APPROVER_B)
    assert world.run_ended(run.id).status == "succeeded"
    assert [c for c in world.cluster.calls if c[0] == "delete"]
    dep = service.store.get_deployment("prod", "counter-app")
    assert dep is not None and dep.status == "deleted"


def test_deleting_a_deployment_from_a_channel_the_cluster_does_not_allow_is_refused(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    _deployed_on_prod(world, service, driver)
    _shown, value = _delete_confirm(world, driver, APPROVER_A, "C0OTHER")
    answer = text_of(
        driver.answer(
            driver.click(
                {"type": "button", "action_id": "appprofile_delete", "block_id": "b", "value": value},
                user=APPROVER_A,
                channel="C0OTHER",
            )
        )
    )
    assert "not allowed from this channel" in answer
    dep = service.store.get_deployment("prod", "counter-app")
    assert dep is not None and dep.status == "ready"
    assert any(e.action == "delete" and e.result == "denied" for e in service.store.list_audit(limit=50))


def test_an_approval_holds_only_for_the_plan_it_was_given_to(make_world: Any) -> None:
    world: World = make_world()
    service, driver = world.boot()
    run_id, value = request(world, driver)
    # While the request waits, the deployment changes (here: an object appears in its inventory).
    run = service.store.get_run(run_id)
    dep = service.store.get_deployment("prod", run.deployment)
    assert dep is not None
    stray = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "stray",
        "namespace": "x-ns",
        "tier": "api",
        "hash": "",
    }
    service.store.update_deployment(dep.id, inventory=[stray])
    assert "Approved" in click(world, driver, value, APPROVER_A)
    run = world.run_ended(run_id)
    assert run.status == "failed"
    assert run.error is not None and "plan changed since it was approved" in run.error
    assert [c for c in world.cluster.calls if c[0] == "apply"] == []


def test_the_start_up_sweep_expires_what_timed_out_while_the_bot_was_down(make_world: Any) -> None:
    import threading

    from bot import main

    world: World = make_world(expires="10m")
    _service, driver = world.boot()
    run_id, _ = request(world, driver)
    world.clock.now += 11 * 60
    restarted, _driver = world.boot()
    stop = threading.Event()
    try:
        main.start_background(world.bots[-1].composed, stop)
        # The sweep expires the run, then rewrites its card from the store: wait for that card.
        card_ts = restarted.store.get_run(run_id).approval_ts
        world.fake.wait_for(
            "chat.update", lambda c: c.params.get("ts") == card_ts and "Expired" in text_of(c), 10
        )
        assert restarted.store.get_run(run_id).status == "expired"
    finally:
        stop.set()
