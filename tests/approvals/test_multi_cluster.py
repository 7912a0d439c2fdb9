"""One name, several clusters; `delete` saying what it deletes; status after a failed upgrade.

Signed requests into the real Bolt app, the real executor over a scripted cluster, a real store.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.ports import ClusterError
from bot.core.records import Actor, Run
from bot.slack import blocks
from bot.usecases.service import Service
from sandbox.slack_api import Call
from tests.approvals.conftest import EXAMPLE, World, text_of
from tests.rig import Reply, SlackDriver

CHANNEL = "C0TEAM"
USER = "U0DEV"
CONFIG = """
clusters:
  dev-cluster: {context: dev}
  prod: {context: prod}
"""

Boot = Callable[[], tuple[World, Service, SlackDriver]]


@pytest.fixture
def boot(make_world: Any) -> Boot:
    def make() -> tuple[World, Service, SlackDriver]:
        world: World = make_world(config=CONFIG)
        service, driver = world.boot()
        return world, service, driver

    return make


def send(driver: SlackDriver, text: str) -> Reply:
    reply = driver.command(text, user=USER, channel=CHANNEL)
    assert reply.status == 200
    return reply


def answer(driver: SlackDriver, text: str, contains: str = "") -> str:
    """The private answer to `/appprofile text`."""
    got = driver.answer(send(driver, text), contains)
    assert got.params.get("response_type") == "ephemeral", got.params
    return text_of(got)


def click(driver: SlackDriver, button: dict[str, Any]) -> Reply:
    action = {"type": "button", "action_id": button["action_id"], "block_id": "b", "value": button["value"]}
    reply = driver.click(action, user=USER, channel=CHANNEL)
    assert reply.status == 200
    return reply


def buttons(call: Call) -> list[dict[str, Any]]:
    found = []
    for b in call.params.get("blocks") or []:
        if b.get("type") == "actions":
            found += b["elements"]
        if "accessory" in b:
            found.append(b["accessory"])
    return found


def button_named(call: Call, label: str) -> dict[str, Any]:
    for el in buttons(call):
        if el["text"]["text"] == label:
            return el
    raise AssertionError(f"no button {label!r} in {[e['text']['text'] for e in buttons(call)]}")


def wait_run(world: World, run_id: int, status: str) -> Run:
    """The run once its progress message shows it ended; it ended with `status`."""
    run = world.run_ended(run_id)
    assert run.status == status, run.error
    return run


def deploy(world: World, driver: SlackDriver, text: str) -> Run:
    """Deploy through the slash command; wait until the run has succeeded."""
    reply = send(driver, text)
    started = text_of(driver.answer(reply, "started"))
    run_id = run_id_in(started)
    return wait_run(world, run_id, "succeeded")


def run_id_in(text: str) -> int:
    found = re.search(r"run #(\d+)", text)
    assert found, text
    return int(found.group(1))


def live(service: Service) -> list[str]:
    return sorted(d.ref for d in service.store.list_deployments() if d.status != "deleted")


def seed(service: Service) -> None:
    service.create(Actor(user=USER, channel=CHANNEL), EXAMPLE)


def test_one_name_on_two_clusters(boot: Boot) -> None:
    world, service, driver = boot()
    seed(service)
    deploy(world, driver, "deploy counter-app to dev-cluster as shop")
    deploy(world, driver, "deploy counter-app to prod as shop")
    assert live(service) == ["dev-cluster/shop", "prod/shop"]

    status = answer(driver, "status shop", "Status")
    assert "shop on dev-cluster" in status and "shop on prod" in status

    refused = answer(driver, "outputs shop", "clusters")
    assert "deployed on 2 clusters (dev-cluster, prod)" in refused
    assert "/appprofile outputs shop on dev-cluster" in refused
    assert "Outputs of shop on prod" in answer(driver, "outputs shop on prod", "Outputs")
    only_prod = answer(driver, "status shop on prod", "Status")
    assert "shop on prod" in only_prod and "dev-cluster" not in only_prod

    refused = answer(driver, "delete shop", "clusters")
    assert "deployed on 2 clusters (dev-cluster, prod)" in refused
    assert "/appprofile delete shop from dev-cluster" in refused
    assert "no deployment `shop` on staging" in answer(driver, "delete shop from staging", "staging")
    assert service.store.runs_with_status("queued", "running") == []

    confirm = driver.answer(send(driver, "delete shop from prod"), "Delete")
    assert "tears down deployment *shop* on `prod`" in text_of(confirm)
    done = driver.answer(click(driver, button_named(confirm, "Delete deployment shop on prod")), "Deleting")
    assert "shop on prod" in text_of(done)
    deleted = wait_run(world, run_id_in(text_of(done)), "succeeded")
    assert (deleted.kind, deleted.cluster) == ("delete", "prod")
    assert live(service) == ["dev-cluster/shop"]


def test_delete_of_a_name_that_is_a_profile_and_a_deployment_asks_which(boot: Boot) -> None:
    world, service, driver = boot()
    seed(service)
    deploy(world, driver, "deploy counter-app to dev-cluster")

    choice = driver.answer(send(driver, "delete counter-app"), "Which one")
    assert choice.params["response_type"] == "ephemeral"
    labels = [b["text"]["text"] for b in buttons(choice)]
    assert labels == [
        "Delete deployment counter-app on dev-cluster",
        "Delete profile counter-app (1 version)",
        "Cancel",
    ]
    assert all(
        json.loads(b["value"]).keys() <= {"kind", "name", "version", "cluster", "purge", "override_window"}
        for b in buttons(choice)[:2]
    )

    # The profile is still deployed: refused, with the command that deletes the deployment first.
    refused = text_of(
        driver.answer(click(driver, button_named(choice, "Delete profile counter-app (1 version)")))
    )
    assert "cannot be deleted: it is still deployed (counter-app on dev-cluster)" in refused
    assert "/appprofile delete counter-app from dev-cluster" in refused
    # `NAME@VERSION` is always the profile version: refused too while it runs.
    confirm = driver.answer(send(driver, "delete counter-app@1.0.0"), "Delete")
    assert "deletes version `1.0.0` of profile *counter-app*" in text_of(confirm)
    refused = text_of(driver.answer(click(driver, button_named(confirm, "Delete counter-app@1.0.0"))))
    assert "in use by deployment dev-cluster/counter-app" in refused
    assert "/appprofile delete counter-app from dev-cluster" in refused
    assert [r.version for r in service.store.list_versions("counter-app")] == ["1.0.0"]
    assert live(service) == ["dev-cluster/counter-app"]

    # The deployment's choice leads to its confirmation, in place of the choice.
    to_confirm = click(driver, button_named(choice, "Delete deployment counter-app on dev-cluster"))
    confirm = driver.answer(to_confirm, "tears down")
    assert confirm.params["replace_original"] is True
    assert live(service) == ["dev-cluster/counter-app"]  # nothing before the confirmed click
    deleting = text_of(
        driver.answer(click(driver, button_named(confirm, "Delete deployment counter-app on dev-cluster")))
    )
    wait_run(world, run_id_in(deleting), "succeeded")
    assert live(service) == []

    # Now the name is only a profile: its own confirmation, no choice.
    confirm = driver.answer(send(driver, "delete counter-app"), "Delete")
    assert "all 1 version" in text_of(confirm)
    done = driver.answer(click(driver, button_named(confirm, "Delete profile counter-app")), "Deleted")
    assert "Deleted profile counter-app" in text_of(done)
    assert service.store.list_profiles() == []


def _api_deployment(world: World) -> str:
    return next(
        w.rsplit("/", 1)[1]
        for v, w in world.cluster.calls
        if v == "apply" and w.startswith("Deployment/") and "api" in w
    )


def test_status_after_a_failed_upgrade_shows_what_runs_and_offers_retry_not_upgrade(boot: Boot) -> None:
    world, service, driver = boot()
    seed(service)
    deploy(world, driver, "deploy counter-app to dev-cluster")
    service.new_version(Actor(user=USER, channel=CHANNEL), "counter-app", "1.1.0")

    before = driver.answer(send(driver, "status counter-app"), "Status")
    upgrade = button_named(before, "Upgrade to 1.1.0")
    # The upgrade fails once, at the api tier (a scripted fault: the next apply goes through).
    world.cluster.faults[("apply", f"Deployment/{_api_deployment(world)}")] = ClusterError(
        "admission webhook denied the request: image not allowed"
    )
    started = text_of(driver.answer(click(driver, upgrade), "started"))
    assert "counter-app 1.1.0" in started
    wait_run(world, run_id_in(started), "failed")

    after = driver.answer(send(driver, "status counter-app"), "Status")
    shown = text_of(after)
    assert "counter-app on dev-cluster*: counter-app 1.0.0 in place" in shown
    assert "last attempt: 1.1.0 failed at tier api" in shown and "image not allowed" in shown
    assert "Upgrade to" not in shown
    retry = button_named(after, "Retry 1.1.0")
    assert retry["action_id"] == blocks.RETRY_ACTION
    dep = service.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and (dep.version, dep.last_good_version) == ("1.0.0", "1.0.0")

    # Retry re-runs exactly that attempt (the use case re-checks it from the store).
    requested = text_of(driver.answer(click(driver, retry), "Retry requested"))
    wait_run(world, run_id_in(requested), "succeeded")
    now = text_of(driver.answer(send(driver, "status counter-app"), "Status"))
    assert "counter-app 1.1.0 · ready" in now and "Retry" not in now and "Upgrade" not in now


def test_a_bare_deploy_names_what_it_deploys_first(boot: Boot) -> None:
    world, service, driver = boot()
    seed(service)
    reply = send(driver, "deploy dev-cluster")
    first = driver.answer(reply, "started").params["text"].splitlines()[0]
    assert first.startswith("Deploying counter-app 1.0.0 → counter-app on dev-cluster")
    wait_run(world, run_id_in(first), "succeeded")


def test_a_queued_run_says_one_other_run(boot: Boot) -> None:
    world, service, driver = boot()
    seed(service)
    gate = threading.Event()
    world.cluster.on_apply = lambda _obj: gate.wait(10) and None
    try:
        first = driver.answer(send(driver, "deploy counter-app to dev-cluster"), "started")
        queued = text_of(driver.answer(send(driver, "deploy counter-app to dev-cluster"), "queued"))
        assert "queued behind 1 other run;" in queued and "run(s)" not in queued
    finally:
        gate.set()
    run_id = run_id_in(first.params["text"])
    wait_run(world, run_id, "succeeded")
    wait_run(world, run_id + 1, "succeeded")
