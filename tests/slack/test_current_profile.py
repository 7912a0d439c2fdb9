"""The channel's current profile; `create` and `clone` make new profiles only; missing arguments;
secret `--set`s; singular and plural. Signed requests into the real Bolt app, a real store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.records import Actor
from bot.slack import blocks
from bot.store.db import Store
from bot.usecases.service import Service
from sandbox.slack_api import FakeSlack
from tests.rig import CHANNEL, SlackDriver
from tests.slack.conftest import PROFILE_YAML

OTHER_YAML = PROFILE_YAML.replace("name: counter-app", "name: other-app")
PERSON_A = "U0AAA"
PERSON_B = "U0BBB"


def _text(params: dict[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False)


def _create(slack: SlackDriver, yaml_text: str, user: str = PERSON_A) -> str:
    # Wait for this profile's own card: an earlier create's card may arrive after this request.
    name = next(line.split(":", 1)[1].strip() for line in yaml_text.splitlines() if line.startswith("name:"))
    reply = slack.command(f"create ```{yaml_text}```", user=user)
    return _text(slack.posted(reply, f"Created {name}@").params)


def _private(slack: SlackDriver, text: str, contains: str = "", user: str = PERSON_A) -> str:
    got = slack.answer(slack.command(text, user=user), contains)
    assert got.params.get("response_type") == "ephemeral", got.params
    return _text(got.params)


def test_create_says_it_is_now_the_current_profile(slack: SlackDriver, store: Store) -> None:
    posted = _create(slack, PROFILE_YAML)
    assert "It is now this channel's current profile." in posted
    assert store.get_current(CHANNEL) == "counter-app"


def test_only_use_and_create_change_the_current_profile(
    slack: SlackDriver, fake: FakeSlack, store: Store, service: Service
) -> None:
    _create(slack, OTHER_YAML)
    _create(slack, PROFILE_YAML)  # created last: the current profile
    service.new_version(Actor(PERSON_A, "C0ELSE"), "other-app", "1.1.0")
    assert store.get_current(CHANNEL) == "counter-app"

    slack.posted(slack.command("show other-app", user=PERSON_A), "other-app@1.1.0")
    _private(slack, "versions other-app", "other-app")
    slack.posted(slack.command("diff other-app 1.0.0 1.1.0", user=PERSON_A), "1.0.0 → 1.1.0")
    slack.posted(slack.command("export other-app@1.0.0", user=PERSON_A), "other-app@1.0.0")
    slack.posted(slack.command("clone other-app other-copy", user=PERSON_A), "Cloned other-copy")
    slack.opened(slack.command("version other-app", user=PERSON_A))
    slack.opened(slack.command("clone other-app", user=PERSON_A))
    slack.opened(slack.command("create", user=PERSON_A))
    cancel = slack.click(
        {"type": "button", "action_id": blocks.CANCEL_ACTION, "value": "cancel"}, user=PERSON_A
    )
    slack.answer(cancel, "delete_original")
    assert store.get_current(CHANNEL) == "counter-app"

    # Person B's bare deploy still deploys the channel's current profile, and says which.
    posted = slack.posted(slack.command("deploy dev-cluster", user=PERSON_B), "Deploy ")
    assert posted.params["text"].startswith("Deploy counter-app@1.0.0 to dev-cluster as counter-app")

    slack.posted(slack.command("use other-app", user=PERSON_B), "current profile")
    assert store.get_current(CHANNEL) == "other-app"


def test_create_of_an_existing_profile_is_refused_at_any_version(slack: SlackDriver, store: Store) -> None:
    _create(slack, PROFILE_YAML)
    for version in ("1.0.0", "2.0.0"):
        newer = PROFILE_YAML.replace("version: 1.0.0", f"version: {version}")
        refused = _private(slack, f"create ```{newer}```", "already exists", user=PERSON_B)
        assert "makes new profiles only" in refused
        assert "/appprofile version counter-app 1.1.0" in refused
    assert [r.version for r in store.list_versions("counter-app")] == ["1.0.0"]


def test_create_form_for_an_existing_profile_is_refused_inline(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    _create(slack, PROFILE_YAML)
    view = slack.opened(slack.command("create"))
    answer = slack.submit(view, {"yaml": PROFILE_YAML, "version": "3.0.0"}).json()
    assert answer["response_action"] == "errors"
    assert "/appprofile version counter-app" in answer["errors"]["yaml"]
    assert [r.version for r in store.list_versions("counter-app")] == ["1.0.0"]


def test_clone_never_writes_into_an_existing_profile(slack: SlackDriver, store: Store) -> None:
    _create(slack, PROFILE_YAML)
    _create(slack, OTHER_YAML)
    refused = _private(slack, "clone counter-app other-app --version 2.0.0", "already exists")
    assert "`clone` makes new profiles only" in refused
    assert "/appprofile version other-app 1.1.0" in refused

    view = slack.opened(slack.command("clone counter-app"))
    answer = slack.submit(view, {"new_name": "other-app", "new_version": "2.0.0"}).json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["new_name"]
    assert "/appprofile version other-app" in answer["errors"]["new_name"]
    assert [r.version for r in store.list_versions("other-app")] == ["1.0.0"]


@pytest.mark.parametrize("text", ["use", "outputs", "diff counter-app", "export", "delete", "deploy"])
def test_missing_arguments_answer_with_usage_and_a_help_button(
    slack: SlackDriver, fake: FakeSlack, text: str
) -> None:
    ack = slack.command(text).json()
    assert ack["response_type"] == "ephemeral"
    shown = json.dumps(ack["blocks"])
    assert f"usage: `/appprofile {text.split()[0]}" in shown
    help_button = next(e for b in ack["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert help_button["action_id"] == blocks.HELP_ACTION


def test_one_version_is_singular(slack: SlackDriver, store: Store) -> None:
    _create(slack, PROFILE_YAML)
    assert "· 1 version" in _private(slack, "list", "App Profiles")
    listed = _private(slack, "versions counter-app", "counter-app")
    assert "counter-app: 1 version" in listed and "1 versions" not in listed


def test_a_secret_parameter_cannot_be_set_on_the_command_line(
    slack: SlackDriver, fake: FakeSlack, store: Store
) -> None:
    _create(slack, PROFILE_YAML)
    refused = _private(
        slack, "deploy counter-app to dev-cluster --set postgres-db.password=Sup3rS3cretValue", "secret"
    )
    assert "`password` is a secret parameter of tier `postgres-db`" in refused
    assert "put the value in the profile" in refused
    assert all("Sup3rS3cretValue" not in _text(c.params) for c in fake.calls)
    assert not [c for c in fake.calls_to("chat.postMessage") if "Deploy counter-app" in _text(c.params)]
    assert store.list_deployments() == []
