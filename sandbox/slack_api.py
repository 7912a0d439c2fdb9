"""A fake Slack Web API on loopback: records every call and is stricter than Slack about payloads.

`WebClient(base_url=fake.base_url)` talks to it like to slack.com. It answers the methods the bot
uses with Slack's response shapes (real increasing `ts`, stored messages and threads, views),
rejects what Slack would reject (`no_text`, `msg_too_long`, `invalid_blocks`, `invalid_auth`)
plus the limits `slack_sdk.models` does not check (50 blocks per message, text object types),
and can be told to fail the next calls with 429/5xx. `response_url` targets live under
`/webhook/...`. See `reference/slack-testing.md` §6.1 for the design this follows.

For the local sandbox it also keeps what a person would see: ephemeral messages per user, the
views each user has open (a `trigger_id` registered with `register_trigger` names the user),
each user's published Home tab (`views.publish`, with how often it was published),
an edit counter per message, and the `response_url` semantics of webhooks registered with
`register_webhook` (`response_type`, `replace_original`, `delete_original`) applied to the
timeline. `revision` grows with every change, so a poller can skip unchanged states.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from sandbox.loopback import LoopbackServer

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
TEXT_TYPES = ("plain_text", "mrkdwn")
# Keys whose dict value is a text object (a composition object, not a block element).
_TEXT_KEYS = ("text", "title", "label", "placeholder", "hint", "submit", "close", "description")
_JSON_PARAMS = ("blocks", "attachments", "view")
_MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    method: str  # "chat.postMessage", or "webhook" for a response_url post
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        err = self.response.get("error")
        return str(err) if err is not None else None


class _Reject(Exception):
    def __init__(self, error: str, detail: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail or []


def fence_error(text: str) -> str | None:
    """Slack opens a code block at a ``` and closes it at the next one: an odd count swallows the
    rest of the message into code. Slack itself accepts that and renders it broken; we refuse it."""
    if text.count("```") % 2:
        return "an unpaired ``` opens a code block that swallows the rest of the text"
    return None


def _text_object_errors(node: Any, where: str) -> list[str]:
    """Text objects must be plain_text or mrkdwn; slack_sdk lets other types through; mrkdwn
    must not hold an unpaired code fence."""
    errors: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            fence = fence_error(node["text"])
            if fence:
                errors.append(f"{where}: {fence}")
        for key, value in node.items():
            if key in _TEXT_KEYS and isinstance(value, dict) and value.get("type") not in TEXT_TYPES:
                errors.append(
                    f"{where}.{key}: text object type {value.get('type')!r} is not plain_text/mrkdwn"
                )
            if key == "fields" and isinstance(value, list):
                for i, f in enumerate(value):
                    if not isinstance(f, dict) or f.get("type") not in TEXT_TYPES:
                        errors.append(f"{where}.fields[{i}]: must be a plain_text or mrkdwn text object")
            errors.extend(_text_object_errors(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            errors.extend(_text_object_errors(item, f"{where}[{i}]"))
    return errors


def block_errors(blocks: Any, limit: int) -> list[str]:
    """Everything wrong with a list of blocks; empty when Slack would accept it."""
    if not isinstance(blocks, list):
        return ["blocks must be a JSON array"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"{len(blocks)} blocks; at most {limit}")
    for i, raw in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(raw, dict):
            errors.append(f"{where}: not an object")
            continue
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                errors.append(f"{where}: unknown block type {raw.get('type')!r}")
                continue
            known = parsed.to_dict()
        except (SlackObjectFormationError, TypeError, KeyError, ValueError, AttributeError) as exc:
            errors.append(f"{where}: {exc}")
            continue
        unknown = sorted(set(raw) - set(known))
        if unknown:
            errors.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        errors.extend(_text_object_errors(raw, where))
    return errors


class FakeSlack:
    """The fake server. `start()` binds 127.0.0.1 on a free port; `base_url` ends with `/api/`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - the fake's own well-known test token
        app_token: str = "xapp-test-token",  # noqa: S107
        team_id: str = "T111",
        bot_user_id: str = "UBOT",
        bot_id: str = "B111",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.socket_url: str | None = None
        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._faults: dict[str, list[int]] = {}
        self._seq = 0
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._ephemeral: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._users: dict[str, str] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._hooks: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, str] = {}
        self._view_owner: dict[str, str] = {}
        self._view_errors: dict[str, dict[str, str]] = {}
        self._closed_views: set[str] = set()
        self._homes: dict[str, dict[str, Any]] = {}
        self._home_publishes: dict[str, int] = {}
        self._revision = 0
        self._http: LoopbackServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._http = LoopbackServer(Handler, name="fake-slack", port=0)
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("FakeSlack is not started")
        return self._http.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_url(self, name: str = "hook") -> str:
        """A `response_url` for payloads: posts to it are recorded as method `webhook`."""
        return f"http://127.0.0.1:{self.port}/webhook/{name}"

    # -- configuration -------------------------------------------------------------------------

    def attach_socket(self, ws_url: str) -> None:
        """`apps.connections.open` answers with this Socket Mode URL."""
        self.socket_url = ws_url

    def add_user(self, user_id: str, name: str) -> None:
        with self._lock:
            self._users[user_id] = name

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(users)

    def add_channel(
        self, channel_id: str, name: str, *, is_member: bool = True, private: bool = False
    ) -> None:
        """Channels not added are treated as public channels the bot is in."""
        with self._lock:
            self._channels[channel_id] = {"name": name, "is_member": is_member, "is_private": private}

    def register_webhook(
        self,
        name: str,
        *,
        channel: str,
        user: str,
        origin_ts: str | None = None,
        origin_ephemeral: bool = False,
    ) -> str:
        """A `response_url` whose posts land in `channel` for `user`, as Slack would show them.

        `origin_ts` is the message a clicked button sat on: `replace_original` and
        `delete_original` act on it. Posts to unregistered webhooks are only validated.
        """
        with self._lock:
            self._hooks[name] = {
                "channel": channel,
                "user": user,
                "origin_ts": origin_ts,
                "origin_ephemeral": origin_ephemeral,
            }
        return self.webhook_url(name)

    def register_trigger(self, trigger_id: str, user: str) -> None:
        """A view opened with this trigger belongs to `user`'s screen."""
        with self._lock:
            self._triggers[trigger_id] = user

    def fail_next(self, method: str, status: int = 429, times: int = 1) -> None:
        """The next `times` calls of `method` get `status` with `Retry-After: 1`."""
        if status not in (429, 500, 503):
            raise ValueError("fail_next supports 429, 500 and 503")
        with self._lock:
            self._faults.setdefault(method, []).extend([status] * times)

    # -- inspection ----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Stored channel messages (thread replies included), oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, {}).values()]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[channel][ts])

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts]

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages, oldest first; only `user`'s when given."""
        with self._lock:
            return [dict(m) for m in self._ephemeral if user is None or m.get("user") == user]

    def views(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(v) for v in self._views.values()]

    def home(self, user: str) -> dict[str, Any] | None:
        """The Home tab last published to `user` (as `views.publish` answered it), if any."""
        with self._lock:
            found = self._homes.get(user)
            return dict(found) if found is not None else None

    def home_publishes(self, user: str) -> int:
        """How many times a Home tab was published to `user` (accepted calls only)."""
        with self._lock:
            return self._home_publishes.get(user, 0)

    @property
    def revision(self) -> int:
        with self._lock:
            return self._revision

    def _bump(self) -> None:
        """Called with the lock held, after any change a person could see."""
        self._revision += 1
        self._lock.notify_all()

    def open_view(self, user: str) -> dict[str, Any] | None:
        """The newest view open on `user`'s screen, with `errors` shown inline (block id → text)."""
        with self._lock:
            for view_id in reversed(list(self._views)):
                if self._view_owner.get(view_id) == user and view_id not in self._closed_views:
                    return {**self._views[view_id], "errors": dict(self._view_errors.get(view_id, {}))}
        return None

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._views.get(view_id)
            return dict(found) if found is not None else None

    def close_view(self, view_id: str) -> None:
        with self._lock:
            self._closed_views.add(view_id)
            self._view_errors.pop(view_id, None)
            self._bump()

    def set_view_errors(self, view_id: str, errors: dict[str, str]) -> None:
        with self._lock:
            self._view_errors[view_id] = dict(errors)
            self._bump()

    def replace_view(self, view_id: str, view: dict[str, Any]) -> None:
        """What a `response_action: update` does: the same view id, new content."""
        checked = dict(self._check_view(view))
        with self._lock:
            checked.update({"id": view_id, "hash": f"h-{view_id}-{self._next_ts()}", "team_id": self.team_id})
            self._views[view_id] = checked
            self._view_errors.pop(view_id, None)
            self._bump()

    def add_ephemeral(self, channel: str, user: str, body: dict[str, Any]) -> str:
        """Show `body` (text/blocks) to `user` only, e.g. a slash command's own echo or ack."""
        ts = self._next_ts()
        with self._lock:
            self._ephemeral.append({"channel": channel, "user": user, "ts": ts, "edit_count": 0, **body})
            self._bump()
        return ts

    def rejected(self) -> list[Call]:
        """Calls answered with a payload error: a test asserts this is empty."""
        return [
            c
            for c in self.calls
            if c.error
            in ("invalid_blocks", "no_text", "msg_too_long", "invalid_arguments", "unpaired_code_fence")
        ]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Call:
        """The first call of `method` (from index `since`) matching `predicate`; bounded wait."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for call in self._calls[since:]:
                    if call.method == method and (predicate is None or predicate(call)):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{c.method}:{c.status}:{c.error or 'ok'}" for c in self._calls[since:]]
                    raise TimeoutError(f"no matching {method} within {timeout}s; calls seen: {seen}")
                self._lock.wait(min(left, 0.1))

    # -- request handling (called from the server threads) --------------------------------------

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._bump()

    def _take_fault(self, method: str) -> int | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.pop(0) if queue else None

    def _next_ts(self) -> str:
        with self._lock:
            self._seq += 1
            return f"1700000000.{self._seq:06d}"

    def handle(
        self, method: str, headers: dict[str, str], params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        fault = self._take_fault(method)
        if fault is not None:
            error = "ratelimited" if fault == 429 else "internal_error"
            return fault, {"ok": False, "error": error}
        token = headers.get("authorization", "").removeprefix("Bearer ").strip() or str(
            params.get("token", "")
        )
        try:
            self._check_token(method, token)
            return 200, {"ok": True, **self._dispatch(method, params)}
        except _Reject as rej:
            body: dict[str, Any] = {"ok": False, "error": rej.error}
            if rej.detail:
                body["errors"] = rej.detail
            return 200, body

    def handle_webhook(self, params: dict[str, Any], name: str = "") -> tuple[int, dict[str, Any]]:
        if not params.get("delete_original"):
            try:
                self._check_message(params, "webhook")
            except _Reject as rej:
                return 400, {"ok": False, "error": rej.error, "errors": rej.detail}
        with self._lock:
            hook = self._hooks.get(name)
        if hook is not None:
            self._apply_webhook(hook, params)
        return 200, {"ok": True}

    def _apply_webhook(self, hook: dict[str, Any], params: dict[str, Any]) -> None:
        """Slack's response_url semantics on the stored timeline."""
        channel, user, origin = hook["channel"], hook["user"], hook["origin_ts"]
        body: dict[str, Any] = {k: params[k] for k in ("text", "blocks", "attachments") if k in params}
        with self._lock:
            if origin is not None and (params.get("delete_original") or params.get("replace_original")):
                if hook["origin_ephemeral"]:
                    target = next((m for m in self._ephemeral if m["ts"] == origin), None)
                    if target is not None and params.get("delete_original"):
                        self._ephemeral.remove(target)
                else:
                    target = self._messages.get(channel, {}).get(origin)
                    if target is not None and params.get("delete_original"):
                        del self._messages[channel][origin]
                if target is not None and not params.get("delete_original"):
                    for key in ("text", "blocks", "attachments"):
                        target.pop(key, None)
                    target.update(body)
                    target["edit_count"] = int(target.get("edit_count", 0)) + 1
                self._bump()
                return
            if params.get("delete_original"):
                return
        if params.get("response_type") == "in_channel":
            ts = self._next_ts()
            message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts, **body}
            with self._lock:
                self._messages.setdefault(channel, {})[ts] = message
                self._bump()
        else:
            self.add_ephemeral(channel, user, body)

    def _check_token(self, method: str, token: str) -> None:
        if method == "apps.connections.open":
            if not token.startswith("xapp-") or token != self.app_token:
                raise _Reject("invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type")
            return
        if token != self.bot_token:
            raise _Reject("invalid_auth" if token else "not_authed")

    def _check_message(self, params: dict[str, Any], method: str) -> None:
        text = params.get("text")
        blocks = params.get("blocks")
        if method != "chat.update" and not text and not blocks and not params.get("attachments"):
            raise _Reject("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise _Reject("msg_too_long")
        if isinstance(text, str) and fence_error(text):
            raise _Reject("unpaired_code_fence", [str(fence_error(text))])
        if blocks is not None:
            errors = block_errors(blocks, MAX_MESSAGE_BLOCKS)
            if errors:
                raise _Reject("invalid_blocks", errors)

    def _check_view(self, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _Reject("invalid_arguments", ["view must be a JSON object"])
        errors = block_errors(view.get("blocks", []), MAX_VIEW_BLOCKS)
        if view.get("type") not in ("modal", "home"):
            errors.append(f"view type {view.get('type')!r} is not modal/home")
        if not errors:
            try:
                View(**view).to_dict()
            except (SlackObjectFormationError, TypeError, ValueError) as exc:
                errors.append(f"view: {exc}")
        if errors:
            raise _Reject("invalid_blocks", errors)
        return view

    def _channel(self, channel_id: str) -> dict[str, Any]:
        with self._lock:
            return self._channels.get(
                channel_id, {"name": channel_id.lower(), "is_member": True, "is_private": False}
            )

    def _dispatch(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "user": "appprofile",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        if method in _MESSAGE_METHODS:
            return self._message_method(method, p)
        if method in ("views.open", "views.push"):
            if not p.get("trigger_id") and not p.get("interactivity_pointer"):
                raise _Reject("invalid_arguments", ["trigger_id is required"])
            view = dict(self._check_view(p.get("view")))
            view_id = f"V{self._next_ts().replace('.', '')[-8:]}"
            view.update({"id": view_id, "hash": f"h-{view_id}", "team_id": self.team_id})
            with self._lock:
                self._views[view_id] = view
                owner = self._triggers.get(str(p.get("trigger_id") or p.get("interactivity_pointer") or ""))
                if owner is not None:
                    self._view_owner[view_id] = owner
            return {"view": view}
        if method == "views.update":
            view_id = p.get("view_id") or ""
            with self._lock:
                known = view_id in self._views
            if not known:
                raise _Reject("not_found")
            view = dict(self._check_view(p.get("view")))
            view.update({"id": view_id, "hash": f"h-{view_id}-{self._next_ts()}", "team_id": self.team_id})
            with self._lock:
                self._views[view_id] = view
                self._view_errors.pop(view_id, None)
            return {"view": view}
        if method == "views.publish":
            return self._publish_home(p)
        if method == "conversations.info":
            cid = str(p.get("channel", ""))
            info = self._channel(cid)
            return {"channel": {"id": cid, **info}}
        if method == "users.info":
            uid = str(p.get("user", ""))
            with self._lock:
                name = self._users.get(uid)
            if name is None:
                raise _Reject("user_not_found")
            return {
                "user": {"id": uid, "name": name, "real_name": name, "is_bot": False, "team_id": self.team_id}
            }
        if method == "usergroups.users.list":
            gid = str(p.get("usergroup", ""))
            with self._lock:
                members = self._usergroups.get(gid)
            if members is None:
                raise _Reject("no_such_subteam")
            return {"users": list(members)}
        if method == "apps.connections.open":
            if self.socket_url is None:
                raise _Reject("socket_mode_not_attached")
            return {"url": self.socket_url}
        raise _Reject("unknown_method")

    def _publish_home(self, p: dict[str, Any]) -> dict[str, Any]:
        """`views.publish`: `user_id`, a `view` of type home (at most 100 blocks), an optional
        `hash` that must be the current view's (Slack's guard against racing publishers)."""
        user = str(p.get("user_id") or "")
        if user[:1] not in ("U", "W"):
            raise _Reject("invalid_arguments", ["invalid `user_id`"])
        view = p.get("view")
        if isinstance(view, dict) and view.get("type") != "home":
            raise _Reject("invalid_arguments", [f"view type {view.get('type')!r}: views.publish takes home"])
        checked = dict(self._check_view(view))
        with self._lock:
            current = self._homes.get(user)
            if p.get("hash") and (current is None or p["hash"] != current["hash"]):
                raise _Reject("hash_conflict")
            view_id = current["id"] if current is not None else f"V{self._next_ts().replace('.', '')[-8:]}"
            checked.update({"id": view_id, "hash": f"h-{view_id}-{self._next_ts()}", "team_id": self.team_id})
            self._homes[user] = checked
            self._home_publishes[user] = self._home_publishes.get(user, 0) + 1
        return {"view": checked}

    def _message_method(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel") or "")
        if not channel:
            raise _Reject("channel_not_found")
        self._check_message(p, method)
        info = self._channel(channel)
        if not info["is_member"] and method != "chat.postEphemeral":
            raise _Reject("not_in_channel")
        body: dict[str, Any] = {k: p[k] for k in ("text", "blocks", "attachments") if k in p}
        if method == "chat.postEphemeral":
            ts = self._next_ts()
            with self._lock:
                self._ephemeral.append(
                    {"channel": channel, "user": p.get("user"), "ts": ts, "edit_count": 0, **body}
                )
            return {"message_ts": ts}
        if method == "chat.update":
            ts = str(p.get("ts") or "")
            with self._lock:
                stored = self._messages.get(channel, {}).get(ts)
                if stored is None:
                    raise _Reject("message_not_found")
                stored.update(body)
                stored["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
                stored["edit_count"] = int(stored.get("edit_count", 0)) + 1
                return {"channel": channel, "ts": ts, "text": stored.get("text", ""), "message": dict(stored)}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "edit_count": 0,
            **body,
        }
        if p.get("thread_ts"):
            message["thread_ts"] = str(p["thread_ts"])
        with self._lock:
            self._messages.setdefault(channel, {})[ts] = message
        return {"channel": channel, "ts": ts, "message": dict(message)}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call log is the record."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _params(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        if raw:
            if "application/json" in (self.headers.get("content-type") or ""):
                loaded = json.loads(raw)
                if isinstance(loaded, dict):
                    params.update(loaded)
            else:
                params.update({k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()})
        for key in _JSON_PARAMS:
            value = params.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                # Left as text when it is not JSON; validation reports it.
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(value)
        return params

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            params = self._params()
        except (ValueError, UnicodeDecodeError):
            params = {}
            status, body = 200, {"ok": False, "error": "invalid_json"}
            method = path.rsplit("/", 1)[-1]
        else:
            if path.startswith("/webhook/"):
                method = "webhook"
                status, body = self.owner.handle_webhook(params, path.removeprefix("/webhook/"))
            elif path.startswith("/api/"):
                method = path.removeprefix("/api/")
                status, body = self.owner.handle(method, headers, params)
            else:
                method = path
                status, body = 404, {"ok": False, "error": "not_found"}
        # Recorded before answering, so a client that got its answer always finds its call logged.
        self.owner._record(
            Call(method=method, path=path, headers=headers, params=params, status=status, response=body)
        )
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if status in (429, 500, 503):
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(payload)
