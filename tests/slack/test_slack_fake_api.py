"""The fake Slack Web API itself: it answers like Slack and refuses what Slack would refuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.slack import app as slack_app
from sandbox.slack_api import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return slack_app.make_client(fake.bot_token, fake.base_url)


def _error(call: object) -> str:
    with pytest.raises(SlackApiError) as info:
        call()  # type: ignore[operator]
    return str(info.value.response["error"])


def test_post_update_and_threads(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="one")
    second = client.chat_postMessage(channel="C1", text="two", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    client.chat_update(channel="C1", ts=first["ts"], text="one, edited")
    assert fake.message("C1", first["ts"])["text"] == "one, edited"
    assert [m["text"] for m in fake.thread("C1", first["ts"])] == ["two"]
    assert _error(lambda: client.chat_update(channel="C1", ts="1.000001", text="x")) == "message_not_found"


def test_payload_validation(fake: FakeSlack, client: WebClient) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    with pytest.warns(UserWarning, match="top-level `text`"):
        assert _error(lambda: client.chat_postMessage(channel="C1", text="")) == "no_text"
    assert _error(lambda: client.chat_postMessage(channel="C1", text="x" * 40_001)) == "msg_too_long"
    assert (
        _error(lambda: client.chat_postMessage(channel="C1", text="x", blocks=[section] * 51))
        == "invalid_blocks"
    )
    client.chat_postMessage(channel="C1", text="x", blocks=[section] * 50)
    bad_blocks = [
        [{"type": "no_such_block"}],
        [{"type": "section", "text": {"type": "markdown", "text": "hi"}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [{"type": "section", "txet": {"type": "mrkdwn", "text": "typo"}}],
    ]
    for blocks in bad_blocks:
        assert (
            _error(lambda b=blocks: client.chat_postMessage(channel="C1", text="x", blocks=b))
            == "invalid_blocks"
        )
    assert len(fake.rejected()) == 3 + len(bad_blocks)


def test_views(fake: FakeSlack, client: WebClient) -> None:
    view: dict[str, Any] = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Hi"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
    }
    opened = client.views_open(trigger_id="1.2.3", view=view)
    view_id = opened["view"]["id"]
    client.views_update(view_id=view_id, view={**view, "title": {"type": "plain_text", "text": "Hello"}})
    assert fake.views()[0]["title"]["text"] == "Hello"
    assert _error(lambda: client.views_update(view_id="VNOPE", view=view)) == "not_found"
    too_long_title = {**view, "title": {"type": "plain_text", "text": "x" * 25}}
    assert _error(lambda: client.views_open(trigger_id="1", view=too_long_title)) == "invalid_blocks"
    many = {**view, "blocks": view["blocks"] * 101}
    assert _error(lambda: client.views_push(trigger_id="1", view=many)) == "invalid_blocks"


def test_auth_users_groups_channels(fake: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == fake.bot_user_id
    assert _error(lambda: WebClient(token="xoxb-wrong", base_url=fake.base_url).auth_test()) == "invalid_auth"
    fake.add_user("U1", "alice")
    assert client.users_info(user="U1")["user"]["name"] == "alice"
    assert _error(lambda: client.users_info(user="U9")) == "user_not_found"
    fake.set_usergroup("S1", ["U1", "U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    fake.add_channel("C9", "secret", is_member=False, private=True)
    assert client.conversations_info(channel="C9")["channel"]["is_member"] is False
    assert _error(lambda: client.chat_postMessage(channel="C9", text="x")) == "not_in_channel"


def test_apps_connections_open_needs_the_app_token(fake: FakeSlack) -> None:
    fake.attach_socket("ws://127.0.0.1:1/link")
    assert (
        WebClient(token=fake.app_token, base_url=fake.base_url).apps_connections_open(
            app_token=fake.app_token
        )["url"]
        == "ws://127.0.0.1:1/link"
    )
    bot = WebClient(token=fake.bot_token, base_url=fake.base_url)
    assert _error(lambda: bot.apps_connections_open(app_token=fake.bot_token)) == "not_allowed_token_type"


def test_response_url_posts_are_recorded_and_checked(fake: FakeSlack) -> None:
    hook = WebhookClient(fake.webhook_url("x"))
    assert hook.send(text="hi", response_type="ephemeral").status_code == 200
    assert hook.send(text="x", blocks=[{"type": "bogus"}]).status_code == 400
    assert [c.params.get("text") for c in fake.calls_to("webhook")] == ["hi", "x"]


def test_a_429_on_post_message_is_retried(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", 429)
    assert client.chat_postMessage(channel="C1", text="hello")["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    assert fake.messages("C1")[0]["text"] == "hello"


def test_a_500_on_update_is_retried(fake: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="v1")["ts"]
    fake.fail_next("chat.update", 500)
    client.chat_update(channel="C1", ts=ts, text="v2")
    assert [c.status for c in fake.calls_to("chat.update")] == [500, 200]
    assert fake.message("C1", ts)["text"] == "v2"


def test_without_retry_handlers_the_429_surfaces(fake: FakeSlack) -> None:
    # The retry above is the handlers' doing, not the fake's: a bare client sees the 429.
    fake.fail_next("chat.postMessage", 429)
    bare = WebClient(token=fake.bot_token, base_url=fake.base_url)
    with pytest.raises(SlackApiError) as info:
        bare.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers.get("retry-after") == "1"


def test_wait_for_is_bounded(fake: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match=r"no matching chat\.update"):
        fake.wait_for("chat.update", timeout=0.2)
