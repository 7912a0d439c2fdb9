"""Change windows (issue 12), through signed Slack requests into the real app: a deploy inside a
deny window is refused with when it opens and the rule; `--override-window` asks anyway and the
approval needs one more approver, which the card, the answer and the audit log say. The world's
clock is the bot's, so windows follow it, daylight saving time included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core import commands
from bot.core.errors import UserError
from bot.core.records import Run
from tests.approvals.conftest import (
    APPROVER_A,
    APPROVER_B,
    EXAMPLE,
    LEAD,
    PROD_CHANNEL,
    REQUESTER,
    World,
    card_value,
    text_of,
)
from tests.rig import SlackDriver

# Berlin is UTC+1 in March 2030 (before the switch on the 31st); New York switches on 10 March.
FRIDAY_17_00_BERLIN = 1898611200.0  # Fri 2030-03-01 16:00 UTC
TUESDAY_10_00_BERLIN = 1898931600.0  # Tue 2030-03-05 09:00 UTC
# One instant of the day, 13:30 UTC, in New York: 08:30 EST in January, 09:30 EDT in July.
JANUARY_13_30_UTC = 1894023000.0  # Mon 2030-01-07, 08:30 EST
JANUARY_14_30_UTC = 1894026600.0  # Mon 2030-01-07, 09:30 EST
JULY_13_30_UTC = 1909143000.0  # Mon 2030-07-01, 09:30 EDT

REFUSED = (
    "deploys to `prod` are closed by a change window (Fri 16:00 - Mon 08:00 Europe/Berlin) "
    "until Mon 08:00 Europe/Berlin, in 2 d 15 h"
)
HOW = (
    "wait until then, or add `--override-window`: the approval then needs one more approver "
    "than usual (clusters.prod.windows[0] in APPPROFILE_CONFIG)"
)


def windows_config(
    required: int = 2, window: str = '{deny: "Fri 16:00 - Mon 08:00", timezone: Europe/Berlin}'
) -> str:
    return f"""
clusters:
  prod:
    context: prod
    channels: [{PROD_CHANNEL}]
    approval:
      required: {required}
      approvers: [{REQUESTER}, {APPROVER_A}, {APPROVER_B}, S0LEADS]
      expires_after: 1h
    windows: [{window}]
access:
  create: ["*"]
  deploy: ["*"]
  delete: [S0PLATFORM]
"""


def create(world: World, driver: SlackDriver) -> None:
    since = len(world.fake.calls)
    assert driver.command(f"create ```{EXAMPLE}```", user=REQUESTER, channel=PROD_CHANNEL).status == 200
    world.fake.wait_for("chat.postMessage", lambda c: "counter-app" in text_of(c), 10, since=since)


def deploy(driver: SlackDriver, args: str = "") -> tuple[str, str]:
    """`deploy counter-app to prod ARGS` by the requester: (its private answer, the card's text),
    the card's text empty when the deploy was refused."""
    reply = driver.command(f"deploy counter-app to prod {args}".strip(), user=REQUESTER, channel=PROD_CHANNEL)
    assert reply.status == 200
    answer = text_of(driver.answer(reply))
    if "Approval requested" not in answer:
        return answer, ""
    return answer, text_of(driver.posted(reply, "Approval: deploy to prod"))


def pending(world: World) -> Run:
    [run] = world.bots[-1].store.runs_with_status("awaiting_approval")
    return run


def click(driver: SlackDriver, value: str, user: str, action: str = "approval_approve") -> str:
    reply = driver.click(
        {"type": "button", "action_id": action, "block_id": "b", "value": value},
        user=user,
        channel=PROD_CHANNEL,
    )
    assert reply.status == 200
    return text_of(driver.answer(reply))


def card_of(world: World, run: Run) -> dict[str, Any]:
    """The run's approval card as first posted."""
    card = next(c for c in world.fake.calls_to("chat.postMessage") if c.response.get("ts") == run.approval_ts)
    return card.params


def approve_and_finish(world: World, driver: SlackDriver, run: Run, *approvers: str) -> Run:
    value = card_value(card_of(world, run))
    for who in approvers:
        click(driver, value, who)
    return world.run_ended(run.id)


def test_a_deploy_inside_a_window_is_refused_with_when_it_opens_and_the_rule(make_world: Any) -> None:
    world: World = make_world(config=windows_config())
    world.clock.now = FRIDAY_17_00_BERLIN
    service, driver = world.boot()
    create(world, driver)
    answer, card = deploy(driver)
    assert card == ""
    assert REFUSED in answer and HOW in answer
    assert service.store.runs_with_status("awaiting_approval", "queued", "running") == []
    denied = [e for e in service.store.list_audit(limit=50) if e.result == "denied"]
    assert [(e.action, e.actor, e.target, e.detail) for e in denied] == [
        ("deploy", REQUESTER, "counter-app → prod", REFUSED)
    ]


def test_outside_the_window_the_deploy_goes_on_as_usual(make_world: Any) -> None:
    world: World = make_world(config=windows_config())
    world.clock.now = TUESDAY_10_00_BERLIN
    _service, driver = world.boot()
    create(world, driver)
    answer, card = deploy(driver)
    assert "Approval requested" in answer and "override" not in answer
    assert "0 of 2" in card and "override" not in card
    run = pending(world)
    assert run.options == {"set": {}}
    assert approve_and_finish(world, driver, run, APPROVER_A, APPROVER_B).status == "succeeded"


def test_override_needs_one_more_approver_and_the_card_and_the_audit_log_say_so(make_world: Any) -> None:
    world: World = make_world(config=windows_config(required=2))
    world.clock.now = TUESDAY_10_00_BERLIN
    service, driver = world.boot()
    create(world, driver)
    # Outside the window two approvals release a deploy to prod.
    _answer, _card = deploy(driver, "as before")
    assert approve_and_finish(world, driver, pending(world), APPROVER_A, APPROVER_B).status == "succeeded"

    world.clock.now = FRIDAY_17_00_BERLIN
    answer, card = deploy(driver, "--override-window")
    note = (
        "deploying to `prod` inside the change window Fri 16:00 - Mon 08:00 Europe/Berlin "
        "(clusters.prod.windows[0]), so it needs 3 approvals instead of 2"
    )
    assert f"`--override-window`: {note}" in answer
    assert f":warning: `--override-window` by <@{REQUESTER}>: {note}" in card
    assert "Waiting for approval: 0 of 3" in card
    run = pending(world)
    assert run.options == {
        "set": {},
        "override_window": True,
        "window": "Fri 16:00 - Mon 08:00 Europe/Berlin",
        "window_rule": "clusters.prod.windows[0]",
    }
    value = card_value(card_of(world, run))
    assert "1 of 3" in click(driver, value, APPROVER_A)
    assert "already decided" in click(driver, value, APPROVER_A)
    # Two approvals, which released the deploy above, do not release this one.
    assert "2 of 3" in click(driver, value, APPROVER_B)
    assert service.store.get_run(run.id).status == "awaiting_approval"
    world.fake.wait_for(
        "chat.update",
        lambda c: c.params.get("ts") == run.approval_ts and "Waiting for approval: 2 of 3" in text_of(c),
        10,
    )
    assert "Approved" in click(driver, value, LEAD)
    assert world.run_ended(run.id).status == "succeeded"
    overrides = [e for e in service.store.list_audit(limit=100) if e.result == "override"]
    assert [(e.action, e.actor, e.target) for e in overrides] == [
        ("deploy", REQUESTER, "counter-app@1.0.0 → prod/counter-app")
    ]
    assert overrides[0].detail == f"run #{run.id}: `--override-window`: {note}"


def test_override_outside_a_window_changes_nothing(make_world: Any) -> None:
    world: World = make_world(config=windows_config(required=1))
    world.clock.now = TUESDAY_10_00_BERLIN
    _service, driver = world.boot()
    create(world, driver)
    answer, card = deploy(driver, "--override-window")
    assert "No change window of `prod` is closed now, so `--override-window` changed nothing." in answer
    assert "0 of 1" in card and "--override-window" not in card
    assert "override_window" not in pending(world).options


def test_a_retry_inside_a_window_is_refused_and_names_the_command_that_overrides(make_world: Any) -> None:
    world: World = make_world(config=windows_config(required=1))
    world.clock.now = TUESDAY_10_00_BERLIN
    service, driver = world.boot()
    create(world, driver)
    deploy(driver, "--set api.replicas=2")
    run = approve_and_finish(world, driver, pending(world), APPROVER_A)
    assert run.status == "succeeded"

    world.clock.now = FRIDAY_17_00_BERLIN
    buttons = {
        "run_retry": (str(run.id), "counter-app@1.0.0 to prod as counter-app --set api.replicas=2"),
        # The last good version (here the same 1.0.0), with the run's --set as a rollback keeps it.
        "run_rollback": (str(run.id), "counter-app@1.0.0 to prod as counter-app --set api.replicas=2"),
        "deployment_upgrade": (
            json.dumps({"cluster": "prod", "name": "counter-app"}),
            "counter-app to prod as counter-app",
        ),
    }
    for action, (value, args) in buttons.items():
        answer = click(driver, value, REQUESTER, action=action)
        assert REFUSED in answer, (action, answer)
        command = f"/appprofile deploy {args} --override-window"
        assert f"wait until then, or run `{command}`: the approval then needs one more approver" in answer
    assert service.store.runs_with_status("awaiting_approval", "queued", "running") == []

    # Asked again with the flag, the same deploy waits for one approval more than the rule's.
    answer, card = deploy(driver, "--set api.replicas=2 --override-window")
    assert "Waiting for approval: 0 of 2" in card


def test_a_window_in_another_time_zone_follows_its_daylight_saving_time(make_world: Any) -> None:
    world: World = make_world(
        config=windows_config(required=1, window='{deny: "09:00 - 10:00", timezone: America/New_York}')
    )
    world.clock.now = JANUARY_13_30_UTC  # 08:30 EST: open
    service, driver = world.boot()
    create(world, driver)
    answer, card = deploy(driver)
    assert "Approval requested" in answer and card
    world.clock.now = JANUARY_14_30_UTC  # 09:30 EST: closed
    answer, _ = deploy(driver)
    closed = (
        "deploys to `prod` are closed by a change window (every day 09:00 - 10:00 America/New_York) "
        "until Mon 10:00 America/New_York, in 30 min"
    )
    assert closed in answer
    world.clock.now = JULY_13_30_UTC  # the same time of day in UTC is 09:30 EDT in summer: closed
    answer, _ = deploy(driver)
    assert closed in answer
    assert len([e for e in service.store.list_audit(limit=50) if e.result == "denied"]) == 2


def _deploy_released(world: World, driver: SlackDriver) -> None:
    deploy(driver)
    assert approve_and_finish(world, driver, pending(world), APPROVER_A).status == "succeeded"


def _delete(driver: SlackDriver, args: str = "") -> tuple[str, str | None]:
    """`delete counter-app from prod ARGS` by APPROVER_A (who may delete): (the answer, the
    Delete button's value, None when refused)."""
    answer = driver.answer(
        driver.command(f"delete counter-app from prod {args}".strip(), user=APPROVER_A, channel=PROD_CHANNEL)
    )
    values = [
        el["value"]
        for b in answer.params.get("blocks", [])
        if b.get("type") == "actions"
        for el in b["elements"]
        if el.get("action_id") == "appprofile_delete"
    ]
    return text_of(answer), values[0] if values else None


def test_a_teardown_inside_a_window_is_refused_unless_overridden(make_world: Any) -> None:
    world: World = make_world(config=windows_config(required=1))
    world.clock.now = TUESDAY_10_00_BERLIN
    service, driver = world.boot()
    create(world, driver)
    _deploy_released(world, driver)

    world.clock.now = FRIDAY_17_00_BERLIN
    shown, value = _delete(driver)
    assert value is None and REFUSED in shown and HOW in shown
    assert any(e.action == "delete" and e.result == "denied" for e in service.store.list_audit(limit=50))

    shown, value = _delete(driver, "--override-window")
    note = (
        "deleting from `prod` inside the change window Fri 16:00 - Mon 08:00 Europe/Berlin "
        "(clusters.prod.windows[0]), so it needs 2 approvals instead of 1"
    )
    assert value is not None and f"`--override-window`: {note}" in shown
    reply = driver.click(
        {"type": "button", "action_id": "appprofile_delete", "block_id": "b", "value": value},
        user=APPROVER_A,
        channel=PROD_CHANNEL,
    )
    # The answer first (the click's own reply): the run exists once it has been sent.
    answered = text_of(driver.answer(reply, "needs approval"))
    assert (
        f"needs approval: the card is in the channel (run #{pending(world).id}). `--override-window`: {note}."
        in (answered)
    )
    card = text_of(driver.posted(reply, "Approval: delete from prod"))
    assert f"`--override-window` by <@{APPROVER_A}>: {note}" in card and "0 of 2" in card
    run = pending(world)
    assert run.kind == "delete" and run.options["override_window"] is True
    value = card_value(card_of(world, run))
    assert "1 of 2" in click(driver, value, APPROVER_B)
    assert service.store.get_run(run.id).status == "awaiting_approval"
    assert "Approved" in click(driver, value, LEAD)
    assert world.run_ended(run.id).status == "succeeded"
    assert any(
        e.action == "delete" and e.result == "override" and e.target == "prod/counter-app"
        for e in service.store.list_audit(limit=100)
    )


def test_delete_parses_override_window_for_deployments_only() -> None:
    cmd = commands.parse("delete shop from prod --override-window")
    assert isinstance(cmd, commands.Delete) and cmd.override_window and cmd.cluster == "prod"
    assert commands.parse("delete shop from prod") == commands.Delete(name="shop", cluster="prod")
    with pytest.raises(UserError, match="lives on no cluster"):
        commands.parse("delete shop@1.0.0 --override-window")
