"""The channel page's API against the real bot: signed requests, replies, forms and buttons."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from sandbox.channel import CHANNEL, Channel
from sandbox.run import Sandbox
from tests.sandbox.conftest import eventually

ALICE, BOB = "U0ALICE", "U0BOB"


def _ephemeral_with(ch: Channel, user: str, text: str) -> list[dict[str, Any]]:
    return [m for m in ch.state(user)["ephemeral"] if text in json.dumps(m)]


def test_a_signed_command_reaches_the_bot_and_the_reply_is_only_for_the_sender(sandbox: Sandbox) -> None:
    ch = sandbox.channel
    assert ch is not None
    assert ch.command(ALICE, "list").ok
    shown = eventually(lambda: _ephemeral_with(ch, ALICE, "App Profiles (3)"), "the list reply")
    assert "counter-app" in json.dumps(shown[0]["blocks"])
    # The command echo and the reply are alice's alone.
    assert any(
        m.get("sandbox_command") and m["text"] == "/appprofile list" for m in ch.state(ALICE)["ephemeral"]
    )
    assert _ephemeral_with(ch, BOB, "App Profiles (3)") == []
    # The request was signed: the bot answered through the fake with the sandbox's bot token.
    assert sandbox.fake is not None and sandbox.fake.rejected() == []


def test_a_wrong_signing_secret_is_shown_as_an_error(sandbox: Sandbox) -> None:
    assert sandbox.fake is not None and sandbox.channel is not None
    wrong = Channel(
        sandbox.fake,
        bot_url=sandbox.channel.bot_url,
        signing_secret="not-the-bots-secret",
        clusters=sandbox.clusters,
        simulated=True,
    )
    result = wrong.command(ALICE, "list")
    assert not result.ok
    assert result.error is not None and "401" in result.error
    errors = [m for m in wrong.state(ALICE)["ephemeral"] if m.get("sandbox_error")]
    assert errors and "signing secret" in errors[-1]["text"]
    assert "not-the-bots-secret" not in json.dumps(wrong.state(ALICE))


def test_form_errors_show_inline_on_the_right_input_then_the_form_saves(sandbox: Sandbox) -> None:
    ch = sandbox.channel
    assert ch is not None
    assert ch.command(ALICE, "create").ok
    view = eventually(lambda: ch.state(ALICE)["view"], "the create form")
    assert view["title"]["text"] == "Create App Profile"
    assert ch.state(BOB)["view"] is None  # it opened on alice's screen only

    yaml_text = (
        "name: tiny\ntiers:\n  - name: api\n    type: container\n    properties: {image: nginx:1.27}\n"
    )
    bad = ch.submit(ALICE, view["id"], {"name": "Not A Name", "yaml": yaml_text})
    assert not bad.ok
    assert list(bad.errors) == ["name"] and "not a valid profile name" in bad.errors["name"]
    assert ch.state(ALICE)["view"]["errors"] == bad.errors

    good = ch.submit(ALICE, view["id"], {"name": "tiny-app", "yaml": yaml_text})
    assert good.ok, good
    assert ch.state(ALICE)["view"] is None
    card = eventually(
        lambda: [m for m in ch.state(BOB)["messages"] if "tiny-app" in json.dumps(m)], "the created card"
    )
    assert card[0]["user"] == sandbox.fake.bot_user_id  # type: ignore[union-attr]


def test_a_button_on_an_ephemeral_reply_is_clicked_as_a_signed_block_action(sandbox: Sandbox) -> None:
    ch = sandbox.channel
    assert ch is not None
    assert ch.command(ALICE, "frobnicate").ok  # unknown command: the ack carries a Help button
    reply = eventually(lambda: _ephemeral_with(ch, ALICE, "frobnicate")[1:], "the unknown-command reply")[0]
    buttons = [
        (b.get("block_id", ""), e["action_id"])
        for b in reply["blocks"]
        for e in (b.get("elements") or []) + ([b["accessory"]] if "accessory" in b else [])
        if e.get("type") == "button"
    ]
    assert buttons, reply
    block_id, action_id = buttons[0]
    assert ch.click(ALICE, reply["ts"], block_id, action_id, ephemeral=True).ok
    eventually(lambda: _ephemeral_with(ch, ALICE, "/appprofile deploy"), "the help text")
    assert sandbox.fake is not None
    call = sandbox.fake.wait_for("webhook", lambda c: "deploy" in json.dumps(c.params))
    assert call.path.startswith("/webhook/actions/")


def test_edits_are_counted_and_the_page_api_serves_state_and_static_files(sandbox: Sandbox) -> None:
    ch = sandbox.channel
    assert ch is not None
    assert ch.command(ALICE, "deploy counter-app to dev-cluster").ok

    def succeeded() -> list[dict[str, Any]]:
        return [
            m
            for m in ch.state(ALICE)["messages"]
            if "Succeeded" in str(m.get("text")) and "dev-cluster" in str(m.get("text"))
        ]

    progress = eventually(succeeded, "the dev-cluster deploy", timeout=60)[0]
    assert progress["edit_count"] >= 1
    assert sandbox.fake is not None and sandbox.fake.messages(CHANNEL)

    with urllib.request.urlopen(ch.url + "api/state?user=U0BOB", timeout=5) as resp:
        state = json.loads(resp.read())
    assert state["me"] == "U0BOB" and state["clusters"] == ["dev-cluster", "prod"] and state["simulated"]
    with urllib.request.urlopen(
        f"{ch.url}api/state?user=U0BOB&since={sandbox.fake.revision}", timeout=5
    ) as resp:
        assert json.loads(resp.read()).get("unchanged") is True
    with urllib.request.urlopen(ch.url, timeout=5) as resp:
        assert b"/app.js" in resp.read()
    for path in ("../run.py", "nope.js"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(ch.url + path, timeout=5)
        missing.value.close()
        assert missing.value.code == 404
    req = urllib.request.Request(
        ch.url + "api/command", data=json.dumps({"user": "U0MALLORY", "text": "list"}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=5)
    refused.value.close()
    assert refused.value.code == 400
