"""The whole bot as production wires it (tests/rig.py build: Bolt app, SlackReporter, executor, scripted cluster):
everything sent to Slack over a deploy — plan, approval card, progress message and its updates,
thread details, replies to `status`, `outputs`, `deployments`, `audit` — and the log."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from bot.core.ports import ClusterError
from tests.approvals.conftest import APPROVER_A, PROD_CHANNEL, REQUESTER, World, card_value, text_of
from tests.rig import SlackDriver
from tests.security.secrets_data import AWS_SECRET, PROFILE, dump, leaked


def sent(world: World) -> str:
    return dump([c.params for c in world.fake.calls])


def _create(world: World, driver: SlackDriver, channel: str) -> None:
    since = len(world.fake.calls)
    assert driver.command(f"create ```{PROFILE}```", user=REQUESTER, channel=channel).status == 200
    world.fake.wait_for("chat.postMessage", lambda c: "Created" in text_of(c), 10, since=since)


def _ask(world: World, driver: SlackDriver, text: str, channel: str, contains: str) -> None:
    since = len(world.fake.calls)
    assert driver.command(text, user=REQUESTER, channel=channel).status == 200
    world.fake.wait_for("webhook", lambda c: contains in text_of(c), 10, since=since)


def test_an_approved_deploy_and_every_follow_up_command_show_no_secret(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world: World = make_world()
    _service, driver = world.boot()
    _create(world, driver, PROD_CHANNEL)
    since = len(world.fake.calls)
    assert (
        driver.command("deploy vault-app to prod as shop", user=REQUESTER, channel=PROD_CHANNEL).status == 200
    )
    card = world.fake.wait_for(
        "chat.postMessage", lambda c: "Approval: deploy to prod" in text_of(c), 10, since=since
    )
    run_id = int(__import__("json").loads(card_value(card.params))["run"])
    driver.click(
        {
            "type": "button",
            "action_id": "approval_approve",
            "block_id": "b",
            "value": card_value(card.params),
        },
        user=APPROVER_A,
        channel=PROD_CHANNEL,
    )
    run = world.run_ended(run_id)
    assert run.status == "succeeded", run.error
    for text, contains in [
        ("outputs shop", "Outputs of shop"),
        ("status shop", "Status"),
        ("deployments", "Deployments"),
        ("audit 50", "audit entries"),
    ]:
        _ask(world, driver, text, PROD_CHANNEL, contains)
    # The last things the run posts: its final progress draw and the card's final state.
    world.fake.wait_for("chat.update", lambda c: "*Succeeded*" in text_of(c), 10)
    world.fake.wait_for("chat.update", lambda c: "Approved — deployed" in text_of(c), 10)
    everything = sent(world)
    assert "AWS_SECRET_ACCESS_KEY" in everything  # the outputs are listed, masked
    assert leaked(everything) == []
    assert leaked(caplog.text) == []


def test_a_failed_deploy_shows_no_user_given_secret_in_slack(
    make_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world: World = make_world()
    _service, driver = world.boot()
    channel = "C0DEV"
    _create(world, driver, channel)
    world.cluster.faults[("apply", "Secret/vault-app-objects-credentials")] = ClusterError(
        "cluster dev-cluster: cannot patch secrets in `vault-app-objects-ns`: admission webhook "
        f'"secrets-policy" denied the request: AWS_SECRET_ACCESS_KEY value {AWS_SECRET} looks like a live key',
        status=422,
    )
    reply = driver.command("deploy vault-app to dev-cluster", user=REQUESTER, channel=channel)
    assert reply.status == 200
    started = driver.answer(reply, "started")  # this deploy's own answer names its run
    found = re.search(r"run #(\d+)", text_of(started))
    assert found, text_of(started)
    run = world.run_ended(int(found.group(1)))
    assert run.status == "failed"
    _ask(world, driver, "status vault-app", channel, "Status")
    _ask(world, driver, "audit 50", channel, "audit entries")
    # The last things a failed run posts: its final draw and the details in its thread.
    world.fake.wait_for("chat.update", lambda c: "*Failed*" in text_of(c), 10)
    world.fake.wait_for("chat.postMessage", lambda c: "Details for run" in text_of(c), 10)
    assert leaked(sent(world) + caplog.text) == []
