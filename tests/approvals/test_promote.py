"""`promote NAME from A to B [as NAME2]` (issue 12 item 3), through signed Slack requests into the
real app: what succeeded on staging — its version and `--set` values — goes to prod through
prod's guardrails and approval, the card and the progress message say where it comes from, the
audit keeps the lineage, and a source that did not succeed is refused with its state."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.core.ports import ClusterError
from bot.core.records import AuditEntry, Run
from bot.usecases.service import Service
from sandbox.slack_api import Call
from tests import rig
from tests.approvals.conftest import APPROVER_A, EXAMPLE, REQUESTER, SECRET, World, card_value, text_of
from tests.executor.scripted import ScriptedCluster
from tests.rig import Reply, SlackDriver

CHANNEL = "C0TEAM"
HOURS = 3600.0


def config(prod_guardrails: str = "") -> str:
    return f"""
clusters:
  staging: {{context: staging}}
  prod:
    context: prod
    approval: {{required: 1, approvers: [{APPROVER_A}], self_approval: false, expires_after: 1h}}
{prod_guardrails}
"""


class Promoting:
    """One bot over two scripted clusters, `staging` (no approval) and `prod` (one approver)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clusters = {"staging": ScriptedCluster("staging"), "prod": ScriptedCluster("prod")}
        bot = rig.build(
            world.tmp,
            config=world.config,
            fake=world.fake,
            connect=lambda name: self.clusters[name],
            charts=lambda *a: "",
            clock=world.clock,
            signing_secret=SECRET,
        )
        world.bots.append(bot)
        self.service: Service = bot.service
        self.driver: SlackDriver = bot.driver()
        assert self.send(f"create ```{EXAMPLE}```").status == 200
        world.fake.wait_for("chat.postMessage", lambda c: "Created counter-app" in text_of(c), 10)

    def send(self, text: str, user: str = REQUESTER) -> Reply:
        reply = self.driver.command(text, user=user, channel=CHANNEL)
        assert reply.status == 200
        return reply

    def answer(self, text: str, contains: str = "") -> str:
        """The private answer to `/appprofile text`."""
        got = self.driver.answer(self.send(text), contains)
        assert got.params.get("response_type") == "ephemeral", got.params
        return text_of(got)

    def deployed_to_staging(self, text: str) -> Run:
        run = self.world.run_ended(run_id_in(self.answer(text, "started")))
        assert (run.status, run.cluster) == ("succeeded", "staging"), run.error
        return run

    def card(self, run_id: int) -> Call:
        return self.world.fake.wait_for(
            "chat.postMessage",
            lambda c: "Approval: deploy to prod" in text_of(c) and f'"run": {run_id}' in card_value(c.params),
            10,
        )

    def approve(self, card: Call) -> Run:
        reply = self.driver.click(
            {
                "type": "button",
                "action_id": "approval_approve",
                "block_id": "b",
                "value": card_value(card.params),
            },
            user=APPROVER_A,
            channel=CHANNEL,
        )
        assert reply.status == 200
        assert "Approved" in text_of(self.driver.answer(reply))
        return self.world.run_ended(int(json.loads(card_value(card.params))["run"]))

    def audit(self, action: str) -> list[AuditEntry]:
        return [e for e in self.service.store.list_audit(limit=100) if e.action == action]


def run_id_in(text: str) -> int:
    found = re.search(r"run #(\d+)", text)
    assert found, text
    return int(found.group(1))


def api_replicas(cluster: ScriptedCluster, deployment: str) -> int:
    (obj,) = [
        o
        for (kind, _ns, name), o in cluster.objects.items()
        if kind == "Deployment" and name == f"{deployment}-api"
    ]
    return int(obj["spec"]["replicas"])


def progress_messages(world: World, run_id: int) -> list[str]:
    """Every drawing of the run's progress message (matched by its metadata's run id)."""
    out = []
    for call in world.fake.calls:
        meta: Any = call.params.get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        is_progress = call.method in ("chat.postMessage", "chat.update") and isinstance(meta, dict)
        if is_progress and meta.get("event_payload", {}).get("run_id") == run_id:
            out.append(text_of(call))
    return out


def test_promote_deploys_what_succeeded_on_staging_through_prods_approval(make_world: Any) -> None:
    p = Promoting(make_world(config=config()))
    source = p.deployed_to_staging("deploy counter-app to staging --set api.replicas=3")
    assert api_replicas(p.clusters["staging"], "counter-app") == 3
    p.world.clock.now += 3 * HOURS

    answer = p.answer("promote counter-app from staging to prod", "Approval requested")
    assert "Approval requested to deploy counter-app 1.0.0 → counter-app on prod" in answer
    run_id = run_id_in(answer)
    card = text_of(p.card(run_id))
    assert "promotion of counter-app from staging (succeeded 3 h ago)" in card
    assert f"run #{source.id}'s version 1.0.0 and `--set` values, unchanged" in card
    assert p.clusters["prod"].calls == []  # nothing before the approval

    pending = p.service.store.get_run(run_id)
    assert pending.options["set"] == {"api.replicas": "3"}
    assert pending.options["promoted_from"] == {
        "cluster": "staging",
        "deployment": "counter-app",
        "run": source.id,
        "version": "1.0.0",
        "succeeded_at": source.updated_at,
        "succeeded_at_epoch": p.world.clock.now - 3 * HOURS,
    }

    done = p.approve(p.card(run_id))
    assert (done.status, done.cluster, done.version, done.options["set"]) == (
        "succeeded",
        "prod",
        source.version,
        {"api.replicas": "3"},
    )
    assert api_replicas(p.clusters["prod"], "counter-app") == 3
    drawn = progress_messages(p.world, run_id)
    assert drawn and all("promotion of counter-app from staging (succeeded 3 h ago)" in d for d in drawn)

    (promoted,) = p.audit("promote")
    assert (promoted.actor, promoted.target, promoted.result) == (
        REQUESTER,
        "counter-app@staging → counter-app@prod",
        "requested",
    )
    assert promoted.detail == (
        f"run #{run_id}: counter-app@1.0.0 --set api.replicas=3 from run #{source.id} on staging "
        f"(succeeded {source.updated_at})"
    )
    # The deploy itself is audited as every deploy is, and the entry is found by cluster.
    assert any(e.target == "counter-app@1.0.0 → prod/counter-app" for e in p.audit("deploy"))
    assert promoted in p.service.store.list_audit(limit=100, cluster="prod")


def test_promote_as_another_name(make_world: Any) -> None:
    p = Promoting(make_world(config=config()))
    source = p.deployed_to_staging("deploy counter-app to staging --set api.replicas=2")

    answer = p.answer("promote counter-app from staging to prod as shop", "Approval requested")
    assert "counter-app 1.0.0 → shop on prod" in answer
    run_id = run_id_in(answer)
    assert "promotion of counter-app from staging (succeeded just now)" in text_of(p.card(run_id))
    done = p.approve(p.card(run_id))
    assert (done.status, done.deployment, done.options["promoted_from"]["run"]) == (
        "succeeded",
        "shop",
        source.id,
    )
    assert api_replicas(p.clusters["prod"], "shop") == 2
    assert [e.target for e in p.audit("promote")] == ["counter-app@staging → shop@prod"]


def test_a_failed_source_is_refused_with_its_state(make_world: Any) -> None:
    p = Promoting(make_world(config=config()))
    p.deployed_to_staging("deploy counter-app to staging")
    p.clusters["staging"].faults[("apply", "Deployment/counter-app-api")] = ClusterError(
        "admission webhook denied the request"
    )
    failed = p.world.run_ended(run_id_in(p.answer("deploy counter-app to staging", "started")))
    assert failed.status == "failed"

    refused = p.answer("promote counter-app from staging to prod", "staging")
    assert (
        f"`counter-app` on staging is failed (run #{failed.id}): fix it there first, "
        "or deploy a version to prod directly"
    ) in refused
    assert "/appprofile status counter-app on staging" in refused
    assert p.service.store.latest_run("prod", "counter-app") is None
    (denied,) = p.audit("promote")
    assert (denied.target, denied.result) == ("counter-app@staging → counter-app@prod", "denied")
    assert f"is failed (run #{failed.id})" in denied.detail


def test_a_source_waiting_for_approval_or_missing_is_refused(make_world: Any) -> None:
    p = Promoting(make_world(config=config()))
    waiting = run_id_in(p.answer("deploy counter-app to prod", "Approval requested"))

    refused = p.answer("promote counter-app from prod to staging", "prod")
    assert (
        f"`counter-app` on prod is waiting for approval (run #{waiting}): wait until it has succeeded "
        "there, then promote again, or deploy a version to staging directly"
    ) in refused

    missing = p.answer("promote nope from staging to prod", "nope")
    assert "there is no deployment `nope` on staging to promote" in missing
    assert "/appprofile deploy PROFILE@VERSION to prod as nope" in missing
    elsewhere = p.answer("promote counter-app from staging to prod", "staging")
    assert "there is no deployment `counter-app` on staging to promote (it is on prod)" in elsewhere
    typo = p.answer("promote counter-app from stagign to prod", "stagign")
    assert "no cluster named `stagign` is configured" in typo and "staging" in typo
    assert p.service.store.latest_run("staging", "counter-app") is None


def test_prods_guardrails_still_apply_to_a_promotion(make_world: Any) -> None:
    rails = '    guardrails: {images: ["ghcr.io/acme/*"]}'
    p = Promoting(make_world(config=config(rails)))
    p.deployed_to_staging("deploy counter-app to staging")

    refused = p.answer("promote counter-app from staging to prod", "images")
    assert "image `ghcr.io/spectrocloud/hello-universe-api:1.0.8` is not in the allowed images" in refused
    assert p.service.store.latest_run("prod", "counter-app") is None
    assert p.audit("promote") == []
    assert p.clusters["prod"].calls == []
