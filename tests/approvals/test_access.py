"""The `access` rules of APPPROFILE_CONFIG (DESIGN §5), through signed Slack requests into the real app.

A member (by user id, by usergroup, or through "*") may do the action; anyone else gets an
ephemeral "not allowed" reply, the store is unchanged and the audit log has a `denied` row. With an
`access` section, an action it does not list is refused to everyone; without one, all is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.core.records import Actor, Run
from bot.usecases.service import Service
from sandbox.slack_api import Call
from tests.approvals.conftest import APPROVER_A, EXAMPLE, OUTSIDER, World, text_of
from tests.rig import Reply, SlackDriver

CHANNEL = "C0TEAM"
MAKER = "U0MAKER"  # a member of S0MAKERS only
ACCESS_CONFIG = """
clusters:
  dev-cluster: {context: dev}
access:
  create: [S0MAKERS]
  version: [U0AAA]
  clone: ["*"]
  deploy: [S0MAKERS]
  delete: [U0AAA]
"""
CREATE_ONLY_CONFIG = """
clusters:
  dev-cluster: {context: dev}
access:
  create: ["*"]
"""
OPEN_CONFIG = """
clusters:
  dev-cluster: {context: dev}
"""

Boot = Callable[[str], tuple[World, Service, SlackDriver]]


@pytest.fixture
def boot(make_world: Any) -> Boot:
    def make(config_text: str) -> tuple[World, Service, SlackDriver]:
        # The rig looks up the usergroups this config names, as production does (never cached).
        world: World = make_world(config=config_text, usergroups={"S0MAKERS": [MAKER]})
        service, driver = world.boot()
        return world, service, driver

    return make


def seed(service: Service, user: str = MAKER) -> None:
    """counter-app 1.0.0, created through the use case by someone allowed to create."""
    service.create(Actor(user=user, channel=CHANNEL), EXAMPLE)


def command(world: World, driver: SlackDriver, text: str, user: str) -> Reply:
    """Send `/appprofile text`; its answers are matched to it by its response_url."""
    reply = driver.command(text, user=user, channel=CHANNEL)
    assert reply.status == 200
    return reply


def private_reply(driver: SlackDriver, sent: Reply) -> Call:
    """The answer shown only to the person (through the request's own response_url)."""
    reply = driver.answer(sent)
    assert reply.params.get("response_type") == "ephemeral", reply.params
    return reply


def public_post(driver: SlackDriver, sent: Reply, needle: str) -> Call:
    return driver.posted(sent, needle)


def submit_form(driver: SlackDriver, sent: Reply, user: str) -> None:
    """Submit the form `sent` opened, as it was prefilled; a form saves before it closes."""
    view = driver.opened(sent)
    prefilled = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b.get("type") == "input" and b["element"].get("initial_value")
    }
    reply = driver.submit(view, prefilled, user=user)
    assert reply.status == 200 and reply.body == "", reply.body


def delete_via_confirm(world: World, driver: SlackDriver, target: str, user: str) -> Call:
    """`delete TARGET` always answers with a confirmation first; click its Delete button as `user`
    and return the answer to the click (the use case authorises there)."""
    confirm = private_reply(driver, command(world, driver, f"delete {target}", user))
    value = next(
        el["value"]
        for b in confirm.params["blocks"]
        if b.get("type") == "actions"
        for el in b["elements"]
        if el.get("action_id") == "appprofile_delete"
    )
    reply = driver.click(
        {"type": "button", "action_id": "appprofile_delete", "block_id": "delete", "value": value},
        user=user,
        channel=CHANNEL,
    )
    assert reply.status == 200
    return driver.answer(reply)


def denials(service: Service) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.action, e.target) for e in service.store.list_audit(limit=200) if e.result == "denied"
    ]


def versions(service: Service, name: str) -> list[str]:
    return sorted(r.version for r in service.store.list_versions(name))


def runs_of(service: Service) -> Run | None:
    return service.store.latest_run("dev-cluster", "counter-app")


def test_create_is_for_the_usergroup(boot: Boot) -> None:
    world, service, driver = boot(ACCESS_CONFIG)
    # U0AAA may version and delete, but is not in S0MAKERS.
    reply = private_reply(driver, command(world, driver, f"create ```{EXAMPLE}```", APPROVER_A))
    assert "you are not allowed to create here" in text_of(reply)
    assert service.store.list_profiles() == []
    assert denials(service) == [(APPROVER_A, "create", "counter-app@1.0.0")]

    sent = command(world, driver, f"create ```{EXAMPLE}```", MAKER)
    public_post(driver, sent, "counter-app")
    assert versions(service, "counter-app") == ["1.0.0"]
    assert len(denials(service)) == 1


def test_version_is_for_the_listed_user(boot: Boot) -> None:
    world, service, driver = boot(ACCESS_CONFIG)
    seed(service)
    # The maker created the profile, but `version` lists only U0AAA.
    reply = private_reply(driver, command(world, driver, "version counter-app 1.1.0", MAKER))
    assert "you are not allowed to version here" in text_of(reply)
    assert versions(service, "counter-app") == ["1.0.0"]
    assert denials(service) == [(MAKER, "version", "counter-app@1.1.0")]

    sent = command(world, driver, "version counter-app 1.1.0", APPROVER_A)
    submit_form(driver, sent, APPROVER_A)
    public_post(driver, sent, "1.1.0")
    assert versions(service, "counter-app") == ["1.0.0", "1.1.0"]
    assert len(denials(service)) == 1


def test_create_cannot_add_a_version_to_an_existing_profile(boot: Boot) -> None:
    """Issue 10: a user with only `create` could add counter-app 2.0.0; now that needs `version`."""
    world, service, driver = boot(ACCESS_CONFIG)
    seed(service)
    newer = EXAMPLE.replace("version: 1.0.0", "version: 2.0.0")
    reply = private_reply(driver, command(world, driver, f"create ```{newer}```", MAKER))
    assert "already exists" in text_of(reply)
    assert "/appprofile version counter-app 1.1.0" in text_of(reply)
    assert versions(service, "counter-app") == ["1.0.0"]
    # The `version` command is the way, and it is for the user `version` lists only.
    reply = private_reply(driver, command(world, driver, "version counter-app 2.0.0", MAKER))
    assert "you are not allowed to version here" in text_of(reply)
    assert versions(service, "counter-app") == ["1.0.0"]


def test_clone_with_star_is_for_everyone(boot: Boot) -> None:
    world, service, driver = boot(ACCESS_CONFIG)
    seed(service)
    for user, new_name in ((OUTSIDER, "copy-one"), (MAKER, "copy-two")):
        sent = command(world, driver, f"clone counter-app {new_name}", user)
        public_post(driver, sent, new_name)
        assert versions(service, new_name) == ["1.0.0"]
    assert denials(service) == []


def test_deploy_is_for_the_usergroup(boot: Boot) -> None:
    world, service, driver = boot(ACCESS_CONFIG)
    seed(service)
    reply = private_reply(driver, command(world, driver, "deploy counter-app to dev-cluster", OUTSIDER))
    assert "you are not allowed to deploy here" in text_of(reply)
    assert runs_of(service) is None
    assert service.store.list_deployments() == []
    assert world.cluster.calls == []
    assert denials(service) == [(OUTSIDER, "deploy", "counter-app@dev-cluster")]

    reply = private_reply(driver, command(world, driver, "deploy counter-app to dev-cluster", MAKER))
    assert "started" in text_of(reply)
    run = runs_of(service)
    assert run is not None and run.requested_by == MAKER
    # Let the member's run finish before the world shuts down.
    assert world.run_ended(run.id).status == "succeeded"
    assert len(denials(service)) == 1


def test_delete_is_for_the_listed_user_and_rechecked_on_the_confirmed_click(boot: Boot) -> None:
    world, service, driver = boot(ACCESS_CONFIG)
    seed(service)
    answer = delete_via_confirm(world, driver, "counter-app@1.0.0", MAKER)
    assert answer.params.get("response_type") == "ephemeral"
    assert "you are not allowed to delete here" in text_of(answer)
    assert versions(service, "counter-app") == ["1.0.0"]
    assert denials(service) == [(MAKER, "delete", "counter-app@1.0.0")]

    answer = delete_via_confirm(world, driver, "counter-app@1.0.0", APPROVER_A)
    assert "Deleted counter-app 1.0.0" in text_of(answer)
    assert versions(service, "counter-app") == []
    assert len(denials(service)) == 1


def test_an_action_missing_from_access_is_refused_to_everyone(boot: Boot) -> None:
    world, service, driver = boot(CREATE_ONLY_CONFIG)
    sent = command(world, driver, f"create ```{EXAMPLE}```", APPROVER_A)
    public_post(driver, sent, "counter-app")

    for action, text in (
        ("version", "version counter-app 1.1.0"),
        ("clone", "clone counter-app copy-app"),
        ("deploy", "deploy counter-app to dev-cluster"),
    ):
        reply = private_reply(driver, command(world, driver, text, APPROVER_A))
        assert f"nobody may {action} yet" in text_of(reply), action
    answer = delete_via_confirm(world, driver, "counter-app@1.0.0", APPROVER_A)
    assert answer.params.get("response_type") == "ephemeral"
    assert "nobody may delete yet" in text_of(answer)

    assert versions(service, "counter-app") == ["1.0.0"]
    assert versions(service, "copy-app") == []
    assert runs_of(service) is None
    assert sorted(denials(service)) == [
        (APPROVER_A, "clone", "copy-app@1.0.0"),
        (APPROVER_A, "delete", "counter-app@1.0.0"),
        (APPROVER_A, "deploy", "counter-app@dev-cluster"),
        (APPROVER_A, "version", "counter-app@1.1.0"),
    ]


def test_without_an_access_section_everyone_may_do_everything(boot: Boot) -> None:
    world, service, driver = boot(OPEN_CONFIG)
    public_post(driver, command(world, driver, f"create ```{EXAMPLE}```", OUTSIDER), "counter-app")
    sent = command(world, driver, "version counter-app 1.1.0", OUTSIDER)
    submit_form(driver, sent, OUTSIDER)
    public_post(driver, sent, "1.1.0")
    public_post(driver, command(world, driver, "clone counter-app copy-app", OUTSIDER), "copy-app")
    answer = delete_via_confirm(world, driver, "counter-app@1.0.0", OUTSIDER)
    assert "Deleted counter-app 1.0.0" in text_of(answer)
    reply = private_reply(driver, command(world, driver, "deploy counter-app to dev-cluster", OUTSIDER))
    assert "started" in text_of(reply)
    run = runs_of(service)
    assert run is not None
    # Let the member's run finish before the world shuts down.
    assert world.run_ended(run.id).status == "succeeded"

    assert versions(service, "counter-app") == ["1.1.0"]
    assert versions(service, "copy-app") == ["1.1.0"]  # a clone starts from the latest version
    assert denials(service) == []
