"""Profile commands through the real Bolt app: nothing a person typed as a secret property comes
back in a Slack message, a thread reply, an ephemeral reply or a modal (views.open)."""

from __future__ import annotations

import pytest

from bot.core.records import Actor
from bot.slack import blocks
from bot.store.db import Store
from bot.usecases.service import Service
from sandbox.slack_api import Call, FakeSlack
from tests.rig import CHANNEL, SlackDriver
from tests.security.secrets_data import (
    PG_PASSWORD,
    PG_PASSWORD_V2,
    PROFILE,
    dump,
    leaked,
)


def sent(fake: FakeSlack, since: int = 0) -> str:
    """Everything the app sent to Slack: Web API calls (incl. views.open) and response_url posts."""
    return dump([c.params for c in fake.calls[since:]])


def _posted(fake: FakeSlack, since: int, contains: str) -> Call:
    return fake.wait_for("chat.postMessage", lambda c: c.ok and contains in dump(c.params), since=since)


def _webhook(fake: FakeSlack, since: int, contains: str = "") -> Call:
    return fake.wait_for("webhook", lambda c: contains in dump(c.params), since=since)


def _create(slack: SlackDriver, fake: FakeSlack, text: str = PROFILE) -> Call:
    mark = len(fake.calls)
    assert slack.command(f"create ```yaml\n{text}```").status == 200
    # This profile's own card: an earlier create's card may still arrive after this request.
    name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("name:"))
    return _posted(fake, mark, f"Created {name}@")


def _v2(service: Service) -> None:
    """A new version that rotates the database password (the usual reason for a new version)."""
    service.new_version(
        Actor("U222", CHANNEL),
        "vault-app",
        "1.1.0",
        yaml_text=PROFILE.replace("version: 1.0.0", "version: 1.1.0").replace(PG_PASSWORD, PG_PASSWORD_V2),
    )


# -- safe paths -----------------------------------------------------------------------------------


def test_create_show_export_and_clone_cards_mask_every_secret_property(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    card = _create(slack, fake)
    assert blocks.MASK in slack.thread(card, blocks.MASK)
    for text, marker in [
        ("show vault-app@1", "vault-app@1.0.0"),
        ("export vault-app@1.0.0", "vault-app@1.0.0"),
        ("clone vault-app@1 vault-copy", "Cloned vault-copy@1.0.0"),
    ]:
        slack.posted(slack.command(text), marker)
    # `version` opens the form prefilled with the (masked) source; the saved version's card too.
    form = slack.opened(slack.command("version vault-app 1.0.1"))
    slack.posted(slack.submit(form, {"version": "1.0.1"}), "vault-app@1.0.1")
    assert leaked(sent(fake)) == []


def test_clone_form_and_its_result_show_no_secret(slack: SlackDriver, fake: FakeSlack, store: Store) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("clone vault-app")
    view = fake.wait_for("views.open", since=mark).response["view"]
    assert slack.submit(view, {"new_name": "vault-b"}).body == ""
    # The card, then its YAML in the thread: wait for the thread, the last thing the job posts.
    slack.thread(_posted(fake, mark, "Cloned vault-b"), "vault-b")
    assert leaked(sent(fake)) == []
    # The copy keeps the secret (it is stored, only never shown).
    assert PG_PASSWORD in store.get_version("vault-b").yaml


@pytest.mark.parametrize(
    "bad",
    [
        "password: " + "Zq8" * 50,  # too long: the error gives the length, not the value
        f"password: [{PG_PASSWORD}]",  # wrong type: the error names the type, not the value
    ],
)
def test_a_rejected_secret_property_is_not_echoed(slack: SlackDriver, fake: FakeSlack, bad: str) -> None:
    text = PROFILE.replace(f"password: {PG_PASSWORD}", bad)
    slack.command(f"create ```{text}```")
    call = _webhook(fake, 0, "password")
    assert call.params["response_type"] == "ephemeral"
    shown = dump(call.params)
    assert PG_PASSWORD not in shown
    assert "Zq8Zq8Zq8" not in shown


def test_audit_command_after_profile_work_shows_no_secret(
    slack: SlackDriver, fake: FakeSlack, service: Service
) -> None:
    _create(slack, fake)
    _v2(service)
    service.clone(Actor("U222", CHANNEL), "vault-app", "1.1.0", "vault-c")
    mark = len(fake.calls)
    slack.command("audit 50")
    _webhook(fake, mark, "audit entries")
    assert leaked(sent(fake, mark)) == []


# -- leaks ----------------------------------------------------------------------------------------


def test_diff_masks_secret_properties(slack: SlackDriver, fake: FakeSlack, service: Service) -> None:
    _create(slack, fake)
    _v2(service)
    mark = len(fake.calls)
    slack.command("diff vault-app 1.0.0 1.1.0")
    diff = _posted(fake, mark, "1.0.0 → 1.1.0")
    # The change itself is still visible, masked, in the thread (once the thread is there).
    assert "password" in slack.thread(diff, "password")
    assert leaked(sent(fake, mark)) == []


def test_version_form_is_not_prefilled_with_secrets(slack: SlackDriver, fake: FakeSlack) -> None:
    _create(slack, fake)
    mark = len(fake.calls)
    slack.command("version vault-app")
    opened = fake.wait_for("views.open", since=mark)
    assert leaked(dump(opened.params)) == []


@pytest.mark.parametrize(
    ("value", "secret_part"),
    [
        ("'Pg-Pa55word-{{.spectro.system.appdeployment.name}}'", "Pg-Pa55word"),
        ("'Pg-Pa55{{\"{{\"}}word-Zx81q'", "word-Zx81q"),
    ],
)
def test_secret_with_an_embedded_macro_is_masked_in_show(
    slack: SlackDriver, fake: FakeSlack, value: str, secret_part: str
) -> None:
    _create(slack, fake, PROFILE.replace(f"password: {PG_PASSWORD}", f"password: {value}"))
    mark = len(fake.calls)
    slack.command("show vault-app")
    slack.thread(_posted(fake, mark, "vault-app@1.0.0"))
    assert secret_part not in sent(fake)


def test_macro_error_in_a_secret_property_does_not_quote_it(slack: SlackDriver, fake: FakeSlack) -> None:
    # A strong password that happens to contain `{{` (generated passwords may).
    text = PROFILE.replace(f"password: {PG_PASSWORD}", "password: 'Pg-Pa55{{word-Zx81q'")
    slack.command(f"create ```{text}```")
    call = _webhook(fake, 0, "macro")
    assert "word-Zx81q" not in dump(call.params)


def test_create_form_error_does_not_quote_a_secret(slack: SlackDriver, fake: FakeSlack) -> None:
    slack.command("create")
    view = fake.wait_for("views.open").response["view"]
    text = PROFILE.replace(f"password: {PG_PASSWORD}", "password: 'Pg-Pa55{{word-Zx81q'")
    reply = slack.submit(view, {"yaml": text})
    assert "errors" in reply.body
    assert "word-Zx81q" not in reply.body
