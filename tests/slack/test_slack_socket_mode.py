"""Socket Mode: the same app, reached through a local WebSocket instead of HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.store.db import Store
from sandbox.slack_api import FakeSlack
from sandbox.slack_socket import FakeSocketMode, envelope
from tests.rig import CHANNEL
from tests.slack.conftest import PROFILE_YAML


@pytest.fixture
def socket_fake(fake: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode().start()
    fake.attach_socket(server.url)
    yield server
    server.stop()


def _slash(fake: FakeSlack, text: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": "T111",
        "team_domain": "acme",
        "channel_id": CHANNEL,
        "channel_name": "general",
        "user_id": "U222",
        "user_name": "alice",
        "command": "/appprofile",
        "text": text,
        "api_app_id": "A111",
        "is_enterprise_install": "false",
        "response_url": fake.webhook_url("socket"),
        "trigger_id": "111.222.abc",
    }


def test_a_slash_command_over_socket_mode_is_acked_and_handled(
    bolt: Any, fake: FakeSlack, socket_fake: FakeSocketMode, store: Store
) -> None:
    handler = SocketModeHandler(bolt, app_token=fake.app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        socket_fake.wait_connected()
        env = envelope("slash_commands", _slash(fake, f"create ```{PROFILE_YAML}```"))
        socket_fake.push(env)
        ack = socket_fake.wait_for_ack(env["envelope_id"])
        assert ack["envelope_id"] == env["envelope_id"]
        fake.wait_for("chat.postMessage", lambda c: "Created counter-app@1.0.0" in str(c.params.get("text")))
        assert store.get_version("counter-app").created_by == "U222"

        bad = envelope("slash_commands", _slash(fake, "lsit"))
        socket_fake.push(bad)
        answer = socket_fake.wait_for_ack(bad["envelope_id"])
        assert "did you mean `list`" in str(answer["payload"]["blocks"])
    finally:
        handler.close()  # type: ignore[no-untyped-call]
    methods = [c.method for c in fake.calls]
    assert "apps.connections.open" in methods
    assert fake.rejected() == []
