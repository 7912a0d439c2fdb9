"""Drift, end to end: counter-app deployed through the real client into the emulator, objects then
changed and deleted by hand with the official client (as `kubectl edit` / `kubectl delete` would),
and what people see in Slack: `status` listing each drifted object's fields (never a value), the
Revert button re-applying the deployed version through the cluster's rules, the plan of the next
deploy saying it takes the hand edits back, and the scheduled check announcing each drift once."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from bot import metrics
from bot.core.commands import DeployRequest
from bot.core.records import Actor
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack
from tests import rig
from tests.rig import CHANNEL, USER

EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
HAND_PASSWORD = "typed-by-hand-0xC0FFEE"
API_NS, API = "counter-app-api-ns", "counter-app-api"
DB_NS = "counter-app-postgres-db-ns"
GENERATED = "counter-app-postgres-db-generated"
HEADLESS = "counter-app-postgres-db-headless"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.t += seconds


@dataclass
class World:
    bot: rig.Bot
    sim: SimCluster
    fake: FakeSlack
    clock: Clock
    tmp: Path

    @property
    def apps(self) -> Any:
        return kubernetes.client.AppsV1Api(self.sim.api_client())

    @property
    def core(self) -> Any:
        return kubernetes.client.CoreV1Api(self.sim.api_client())

    def deploy(self, actor: Actor | None = None) -> int:
        actor = actor or Actor(user=USER, channel=CHANNEL, user_name="alice")
        ticket = self.bot.service.deploy(actor, DeployRequest(profile="counter-app", cluster="dev-cluster"))
        assert ticket.run_id is not None
        run = self.bot.run_ended(ticket.run_id, timeout=60)
        assert run.status == "succeeded", run.error
        return run.id

    def edit_by_hand(self) -> None:
        self.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
        self.core.patch_namespaced_secret(GENERATED, DB_NS, {"stringData": {"password": HAND_PASSWORD}})
        self.core.delete_namespaced_service(HEADLESS, DB_NS)

    def status(self) -> dict[str, Any]:
        driver = self.bot.driver()
        reply = driver.command("status counter-app on dev-cluster")
        answer = driver.answer(reply, "Status", timeout=20)
        assert answer.ok, answer.response
        params: dict[str, Any] = answer.params
        return params

    def everything_slack_saw(self) -> str:
        return json.dumps([c.params for c in self.fake.calls], ensure_ascii=False)


@contextlib.contextmanager
def _world(tmp_path: Path, config: str = rig.DEFAULT_CONFIG) -> Iterator[World]:
    fake = FakeSlack().start()
    clock = Clock()
    with SimCluster(controllers=True, ready_after=0.05) as sim:
        kube = KubeCluster("dev-cluster", sim.api_client(), discovery_cache=str(tmp_path / "d.json"))
        bot = rig.build(tmp_path, fake=fake, connect=lambda _n: kube, config=config, clock=clock)
        try:
            bot.service.create(Actor(user=USER, channel=CHANNEL, user_name="alice"), EXAMPLE)
            yield World(bot, sim, fake, clock, tmp_path)
        finally:
            bot.close()
            fake.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with _world(tmp_path) as made:
        yield made


def _section_texts(message: dict[str, Any]) -> str:
    return "\n".join(
        str((b.get("text") or {}).get("text") or b.get("elements") or "") for b in message.get("blocks", [])
    )


def _revert_button(message: dict[str, Any]) -> dict[str, Any]:
    for b in message.get("blocks", []):
        accessory = b.get("accessory") or {}
        if accessory.get("action_id") == "deployment_revert":
            return dict(accessory)
    raise AssertionError(f"no Revert button in {json.dumps(message)[:2000]}")


def test_right_after_a_deploy_nothing_has_drifted(world: World) -> None:
    world.deploy()
    text = _section_texts(world.status())
    assert "No drift: 10 objects checked" in text


def test_status_lists_each_drifted_object_with_its_fields_and_no_value(world: World) -> None:
    world.deploy()
    world.edit_by_hand()
    text = _section_texts(world.status())
    assert "*Drift*: 3 objects of 10 no longer hold what was applied" in text
    assert f"Deployment {API_NS}/{API}: `spec.replicas`" in text
    assert f"Secret {DB_NS}/{GENERATED}: `stringData.password`" in text
    assert f"Service {DB_NS}/{HEADLESS} — *deleted*" in text
    # Only field names: neither the hand-typed password nor the generated one reach Slack...
    generated = world.bot.store.get_deployment("dev-cluster", "counter-app")
    assert generated is not None
    seen = world.everything_slack_saw()
    assert HAND_PASSWORD not in seen
    live = world.core.read_namespaced_secret(GENERATED, DB_NS).data["password"]
    assert live not in seen
    # ...and the database keeps digests, not values.
    raw = b"".join(p.read_bytes() for p in world.tmp.glob("app.db*"))
    assert HAND_PASSWORD.encode() not in raw


def test_revert_reapplies_the_deployed_version_and_the_drift_is_gone(world: World) -> None:
    world.deploy()
    world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
    world.core.delete_namespaced_service(HEADLESS, DB_NS)
    driver = world.bot.driver()
    click = driver.click(_revert_button(world.status()))
    answer = json.dumps(driver.answer(click, "run #", timeout=20).params, ensure_ascii=False)
    # The hand-deleted Service is created again and the edited Deployment changed back.
    assert "Deploying counter-app 1.0.0 → counter-app on dev-cluster" in answer
    assert "1 to create, 1 to change" in answer
    run = world.bot.store.latest_run("dev-cluster", "counter-app")
    assert run is not None and run.options.get("revert") is True
    assert world.bot.run_ended(run.id, timeout=60).status == "succeeded"
    assert world.apps.read_namespaced_deployment(API, API_NS).spec.replicas == 1  # as counter-app says
    assert world.core.read_namespaced_service(HEADLESS, DB_NS).metadata.name == HEADLESS
    assert "No drift: 10 objects checked" in _section_texts(world.status())


def test_the_next_deploys_plan_says_it_overwrites_the_hand_edits(world: World) -> None:
    world.deploy()
    world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
    actor = Actor(user=USER, channel=CHANNEL, user_name="alice")
    ticket = world.bot.service.deploy(actor, DeployRequest(profile="counter-app", cluster="dev-cluster"))
    assert ticket.plan.overwrites == [f"Deployment {API_NS}/{API}: spec.replicas"]
    assert ticket.run_id is not None
    posted = world.fake.wait_for(
        "chat.postMessage", lambda c: "Overwrites hand edits" in json.dumps(c.params), timeout=20
    )
    assert f"Deployment {API_NS}/{API}: spec.replicas" in json.dumps(posted.params, ensure_ascii=False)
    world.bot.run_ended(ticket.run_id, timeout=60)


def test_revert_waits_for_approval_on_a_cluster_that_requires_it(tmp_path: Path) -> None:
    config = "clusters:\n  dev-cluster:\n    context: dev\n    approval: {required: 1, approvers: [U777]}\n"
    with _world(tmp_path, config) as world:
        approver = Actor(user="U777", channel=CHANNEL, user_name="bob")
        first = world.bot.service.deploy(
            Actor(user=USER, channel=CHANNEL, user_name="alice"),
            DeployRequest(profile="counter-app", cluster="dev-cluster"),
        )
        assert first.run_id is not None and first.awaiting_approval
        world.bot.service.decide(approver, first.run_id, "approve", first.plan.fingerprint)
        assert world.bot.run_ended(first.run_id, timeout=60).status == "succeeded"
        world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
        driver = world.bot.driver()
        click = driver.click(_revert_button(world.status()))
        driver.answer(click, "Approval requested", timeout=20)
        run = world.bot.store.latest_run("dev-cluster", "counter-app")
        assert run is not None and run.status == "awaiting_approval"
        # Nothing was applied before the approval: the hand edit is still there.
        assert world.apps.read_namespaced_deployment(API, API_NS).spec.replicas == 5


def test_a_forged_revert_value_changes_nothing(world: World) -> None:
    world.deploy()
    driver = world.bot.driver()
    forged = {"action_id": "deployment_revert", "type": "button", "value": '{"cluster": "dev-cluster"}'}
    click = driver.click(forged)
    assert "this button is out of date" in json.dumps(driver.answer(click, "out of date").params)
    run = world.bot.store.latest_run("dev-cluster", "counter-app")
    assert run is not None and run.options.get("revert") is None


def test_drift_check_announces_each_drift_once_in_the_channel(tmp_path: Path) -> None:
    config = "clusters:\n  dev-cluster: {context: dev, drift_check: 15m}\n"
    with _world(tmp_path, config) as world:
        world.deploy()
        service = world.bot.service

        def notices() -> list[Any]:
            return [
                c for c in world.fake.calls_to("chat.postMessage") if "Drift in" in c.params.get("text", "")
            ]

        assert service.sweep_drift() == 0 and notices() == []
        world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
        assert service.sweep_drift() == 0  # not due yet: checked 0 s ago
        world.clock.advance(15 * 60)
        assert service.sweep_drift() == 1
        (notice,) = notices()
        assert notice.ok and notice.params["channel"] == CHANNEL
        assert f"Deployment {API_NS}/{API}: `spec.replicas`" in json.dumps(notice.params, ensure_ascii=False)
        world.clock.advance(15 * 60)
        assert service.sweep_drift() == 0 and len(notices()) == 1  # the same drift: said once
        world.core.delete_namespaced_service(HEADLESS, DB_NS)
        world.clock.advance(15 * 60)
        assert service.sweep_drift() == 1 and len(notices()) == 2  # a new drift: said again
        assert "*deleted*" in json.dumps(notices()[-1].params, ensure_ascii=False)
        scraped = metrics.render(metrics.registry(world.bot.store)).decode()
        assert 'appprofile_drifted_deployments{cluster="dev-cluster"} 1.0' in scraped


def test_revert_is_refused_to_someone_who_may_not_deploy(tmp_path: Path) -> None:
    config = f"clusters:\n  dev-cluster: {{context: dev}}\naccess:\n  create: ['*']\n  deploy: [{USER}]\n"
    with _world(tmp_path, config) as world:
        world.deploy()
        world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
        driver = world.bot.driver()
        click = driver.click(_revert_button(world.status()), user="U0OUTSIDER")
        refusal = json.dumps(driver.answer(click, "deploy", timeout=20).params, ensure_ascii=False)
        assert "you are not allowed to deploy here" in refusal and "access.deploy" in refusal
        run = world.bot.store.latest_run("dev-cluster", "counter-app")
        assert run is not None and run.options.get("revert") is None  # no run was requested
        assert world.apps.read_namespaced_deployment(API, API_NS).spec.replicas == 5
        denied = [e for e in world.bot.store.list_audit(limit=5) if e.result == "denied"]
        assert denied and denied[0].actor == "U0OUTSIDER"


def test_revert_inside_a_change_window_is_refused_with_the_command_that_overrides_it(tmp_path: Path) -> None:
    # The clock starts at 08:00 UTC: deploy, then move into the 10:00 - 12:00 window.
    config = "clusters:\n  dev-cluster:\n    context: dev\n    windows: [{deny: '10:00 - 12:00'}]\n"
    with _world(tmp_path, config) as world:
        world.deploy()
        world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
        world.clock.advance(2.5 * 3600)
        driver = world.bot.driver()
        click = driver.click(_revert_button(world.status()))
        refusal = json.dumps(driver.answer(click, "change window", timeout=20).params, ensure_ascii=False)
        assert "deploys to `dev-cluster` are closed by a change window" in refusal
        assert (
            "/appprofile deploy counter-app@1.0.0 to dev-cluster as counter-app --override-window" in refusal
        )
        assert world.apps.read_namespaced_deployment(API, API_NS).spec.replicas == 5


def test_a_failed_deployment_shows_its_drift_but_offers_no_revert(world: World) -> None:
    world.deploy()
    world.apps.patch_namespaced_deployment(API, API_NS, {"spec": {"replicas": 5}})
    dep = world.bot.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None
    world.bot.store.update_deployment(dep.id, status="failed")  # as a failed later deploy leaves it
    message = world.status()
    assert f"Deployment {API_NS}/{API}: `spec.replicas`" in _section_texts(message)
    assert "deployment_revert" not in json.dumps(message)
    # A Revert button from before (or a forged one) is refused with what to do instead.
    driver = world.bot.driver()
    forged = {
        "action_id": "deployment_revert",
        "type": "button",
        "value": '{"cluster": "dev-cluster", "name": "counter-app"}',
    }
    refusal = json.dumps(
        driver.answer(driver.click(forged), "is failed", timeout=20).params, ensure_ascii=False
    )
    assert "use Retry or Roll back on that run's message" in refusal
