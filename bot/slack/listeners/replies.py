"""Where one request's answers go, and who asked: the channel (Web API) or the person (response_url)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.records import Actor
from bot.slack.blocks import Message
from bot.slack.failures import from_slack, unreachable, web_api

# The bot is not a member of the channel: the command's response_url can still answer in it.
_NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found")


def kwargs(msg: Message) -> dict[str, Any]:
    return {"text": msg.text, "blocks": msg.blocks}


def actor(user: str, channel: str, user_name: str = "") -> Actor:
    return Actor(user=user, channel=channel, user_name=user_name)


def clicker(body: Mapping[str, Any]) -> Actor:
    """Who clicked (or submitted) and in which channel."""
    channel = str(
        (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
    )
    user = body.get("user") or {}
    return actor(str(user.get("id", "")), channel, str(user.get("username") or user.get("name") or ""))


def from_home(body: Mapping[str, Any]) -> bool:
    """A click on the person's Home tab: it comes with neither a response_url nor a channel."""
    container = body.get("container") or {}
    return container.get("type") == "view" and (body.get("view") or {}).get("type") == "home"


def to_person(client: WebClient, user: str) -> Callable[..., Any]:
    """A `respond` for a click on the Home tab: answers go to the person's conversation with the
    app (its Messages tab: `chat.postMessage` to the user id). There is no message of theirs to
    replace or delete there: a replacement is posted anew, a deletion does nothing."""

    def send(*, text: str = "", blocks: Any = None, delete_original: bool = False, **_: Any) -> None:
        if not delete_original:
            web_api(lambda: client.chat_postMessage(channel=user, text=text, blocks=blocks))

    return send


def no_response_url(**_: Any) -> None:
    """A form has no response_url; errors after saving go to the log only."""


class Replies:
    """One request's answers. Every Web API call raises only the error tree's classes."""

    def __init__(self, client: WebClient, respond: Callable[..., Any], channel: str) -> None:
        self.client = client
        self.respond = respond
        self.channel = channel

    def private(self, msg: Message, *, replace: bool = False) -> None:
        self.respond(response_type="ephemeral", replace_original=replace, **kwargs(msg))

    def public(self, msg: Message) -> None:
        try:
            first = self.client.chat_postMessage(channel=self.channel, **kwargs(msg))
        except SlackApiError as exc:
            if exc.response.get("error") not in _NOT_IN_CHANNEL:
                raise from_slack(exc) from exc
            self._in_place(msg)
            return
        except OSError as exc:
            raise unreachable(exc) from exc
        for part in msg.thread:
            self._post(part, thread_ts=str(first["ts"]))

    def private_text(self, text: str) -> None:
        """A text-only answer to the person (mrkdwn, already escaped; up to Slack's 40k text)."""
        self.respond(response_type="ephemeral", replace_original=False, text=text)

    def in_thread(self, channel: str, thread_ts: str, text: str) -> None:
        """A text-only reply in the thread of message `thread_ts` (mrkdwn, already escaped)."""
        web_api(lambda: self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text))

    def open_view(self, trigger: str, view: dict[str, Any]) -> None:
        web_api(lambda: self.client.views_open(trigger_id=trigger, view=view))

    def _post(self, msg: Message, *, thread_ts: str) -> None:
        web_api(
            lambda: self.client.chat_postMessage(channel=self.channel, thread_ts=thread_ts, **kwargs(msg))
        )

    def _in_place(self, msg: Message) -> None:
        """Answer through the command's response_url, visible to the channel."""
        self.respond(response_type="in_channel", **kwargs(msg))
        for part in msg.thread:
            self.respond(response_type="in_channel", **kwargs(part))
