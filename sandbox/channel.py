"""The sandbox's Slack channel page: a small HTTP server on 127.0.0.1 and the JSON API behind it.

The page plays the Slack client. What it does becomes what Slack would send the bot: a slash
command as a signed urlencoded body, a click as a signed `block_actions` payload, a form as a
signed `view_submission`, opening the Home tab as a signed `app_home_opened` event (JSON). What
the bot sends back lands in `FakeSlack`, which keeps the channel timeline, each person's
ephemeral messages, open views, published Home tab and messages from the app;
`state()` reads them for one person.
Buttons and inputs are looked up in what the bot stored, never taken from the page, as Slack does.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from sandbox.loopback import LoopbackServer
from sandbox.slack_api import FakeSlack

CHANNEL = "C0SANDBOX"
CHANNEL_NAME = "sandbox"
USERS = {"U0ALICE": "alice", "U0BOB": "bob"}
TEAM = {"id": "T111", "domain": "sandbox"}
EVENTS_PATH = "/slack/events"
STATIC = Path(__file__).parent / "static"
MAX_MESSAGES = 100  # per poll: the newest top-level messages, so a poll's work stays bounded
MAX_REPLIES = 50
MAX_EPHEMERAL = 50
MAX_BODY = 64 * 1024
_CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_ELEMENTS = ("button",)


@dataclass
class Result:
    """What one page action did: `ok`, or an `error` for a person, or inline form `errors`."""

    ok: bool
    error: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "errors": self.errors}


class PageError(Exception):
    """A request from the page that cannot be acted on (unknown user, message or view)."""


class Channel:
    """One channel, two people, and the bot at `bot_url` (its base URL, without a path)."""

    def __init__(
        self,
        fake: FakeSlack,
        *,
        bot_url: str,
        signing_secret: str,
        clusters: list[str],
        simulated: bool,
        port: int = 0,
    ) -> None:
        self.fake = fake
        self.bot_url = bot_url.rstrip("/")
        self.clusters = list(clusters)
        self.simulated = simulated
        self._verifier = SignatureVerifier(signing_secret)
        self._port = port
        self._seq = itertools.count(1)
        self._http: LoopbackServer | None = None
        for uid, name in USERS.items():
            fake.add_user(uid, name)
        fake.add_channel(CHANNEL, CHANNEL_NAME)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Channel:
        channel = self

        class Handler(_Handler):
            owner = channel

        self._http = LoopbackServer(Handler, name="sandbox-page", port=self._port)
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the channel page is not started")
        return f"http://127.0.0.1:{self._http.port}/"

    # -- reading ---------------------------------------------------------------------------------

    def state(self, user: str) -> dict[str, Any]:
        """Everything `user` sees: channel timeline with threads, their ephemerals, their modal."""
        _check_user(user)
        revision = self.fake.revision
        stored = self.fake.messages(CHANNEL)
        replies: dict[str, list[dict[str, Any]]] = {}
        top: list[dict[str, Any]] = []
        for m in stored:
            parent = m.get("thread_ts")
            if parent and parent != m["ts"]:
                replies.setdefault(str(parent), []).append(_shown(m))
            else:
                top.append(m)
        messages = []
        for m in top[-MAX_MESSAGES:]:
            thread = replies.get(m["ts"], [])
            messages.append({**_shown(m), "reply_count": len(thread), "replies": thread[-MAX_REPLIES:]})
        ephemeral = [
            {**_shown(m), "ephemeral": True}
            for m in self.fake.ephemerals(user)
            if m.get("channel") == CHANNEL
        ][-MAX_EPHEMERAL:]
        return {
            "revision": revision,
            "me": user,
            "users": dict(USERS),
            "bot_user": self.fake.bot_user_id,
            "channel": {"id": CHANNEL, "name": CHANNEL_NAME},
            "clusters": self.clusters,
            "simulated": self.simulated,
            "messages": messages,
            "ephemeral": ephemeral,
            "view": self.fake.open_view(user),
            "home": self.fake.home(user),
            # The app's Messages tab: what it said to this person (answers to clicks on the Home).
            "dm": [_shown(m) for m in self.fake.messages(user)][-MAX_EPHEMERAL:],
        }

    # -- acting ----------------------------------------------------------------------------------

    def command(self, user: str, text: str) -> Result:
        """`/appprofile <text>` typed by `user`: echoed to them, then sent signed to the bot."""
        _check_user(user)
        n = next(self._seq)
        hook = f"commands/{n}"
        response_url = self.fake.register_webhook(hook, channel=CHANNEL, user=user)
        trigger = f"{n}.{int(time.time())}.sandbox"
        self.fake.register_trigger(trigger, user)
        self.fake.add_ephemeral(CHANNEL, user, {"text": f"/appprofile {text}", "sandbox_command": True})
        body = {
            "token": "sandbox",
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "channel_id": CHANNEL,
            "channel_name": CHANNEL_NAME,
            "user_id": user,
            "user_name": USERS[user],
            "command": "/appprofile",
            "text": text,
            "api_app_id": "A0SANDBOX",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger,
        }
        status, answer = self._post(urlencode(body))
        if status != 200:
            return self._failed(user, status, answer)
        # An ack with a body is shown like a response_url post (ephemeral unless in_channel).
        if isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
            self.fake.handle_webhook(answer, hook)
        return Result(ok=True)

    def click(self, user: str, ts: str, block_id: str, action_id: str, *, ephemeral: bool = False) -> Result:
        """`user` clicks a button on a stored message (after its confirm dialog, if any)."""
        _check_user(user)
        message = self._find_message(user, ts, ephemeral)
        element = _find_element(message.get("blocks") or [], block_id, action_id)
        n = next(self._seq)
        response_url = self.fake.register_webhook(
            f"actions/{n}", channel=CHANNEL, user=user, origin_ts=ts, origin_ephemeral=ephemeral
        )
        trigger = f"{n}.{int(time.time())}.sandbox"
        self.fake.register_trigger(trigger, user)
        container = {"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": ephemeral}
        payload = _block_actions(user, trigger, container, _action(element, block_id, action_id))
        payload.update(
            channel={"id": CHANNEL, "name": CHANNEL_NAME}, state={"values": {}}, response_url=response_url
        )
        if not ephemeral:
            payload["message"] = {k: v for k, v in message.items() if k != "edit_count"}
        status, answer = self._post("payload=" + quote(json.dumps(payload)))
        if status != 200:
            return self._failed(user, status, answer)
        return Result(ok=True)

    def open_home(self, user: str) -> Result:
        """`user` opens the app's Home tab: Slack's `app_home_opened` event, signed, to the bot."""
        _check_user(user)
        n = next(self._seq)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": "D" + user[1:],
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        home = self.fake.home(user)
        if home is not None:
            event["view"] = home  # as Slack does once a Home was published
        body = {
            "token": "sandbox",
            "team_id": TEAM["id"],
            "api_app_id": "A0SANDBOX",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{n:010d}",
            "event_time": int(time.time()),
        }
        status, answer = self._post(json.dumps(body), content_type="application/json")
        if status != 200:
            return self._failed(user, status, answer)
        return Result(ok=True)

    def click_home(self, user: str, block_id: str, action_id: str) -> Result:
        """`user` clicks a button on their Home tab: the view is the container; there is no
        channel and no response_url, as in Slack."""
        _check_user(user)
        home = self.fake.home(user)
        if home is None:
            raise PageError("your Home tab has not been published yet")
        element = _find_element(home.get("blocks") or [], block_id, action_id)
        trigger = f"{next(self._seq)}.{int(time.time())}.sandbox"
        self.fake.register_trigger(trigger, user)
        container = {"type": "view", "view_id": home["id"]}
        payload = _block_actions(user, trigger, container, _action(element, block_id, action_id))
        payload["view"] = {**home, "state": {"values": {}}}
        status, answer = self._post("payload=" + quote(json.dumps(payload)))
        if status != 200:
            return self._failed(user, status, answer)
        return Result(ok=True)

    def submit(self, user: str, view_id: str, values: dict[str, str | None]) -> Result:
        """`user` submits their open form with `values` (block id → text or option value)."""
        _check_user(user)
        view = self.fake.open_view(user)
        if view is None or view.get("id") != view_id:
            raise PageError("that form is no longer open")
        view.pop("errors", None)
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block.get("element") or {}
            raw = values.get(block.get("block_id", ""))
            text = raw if isinstance(raw, str) and raw != "" else None
            if element.get("type") == "static_select":
                options = {o.get("value"): o for o in element.get("options", [])}
                entry: dict[str, Any] = {"type": "static_select", "selected_option": options.get(text)}
            else:
                entry = {"type": "plain_text_input", "value": text}
            state[block["block_id"]] = {element.get("action_id", "value"): entry}
        payload = {
            "type": "view_submission",
            "team": dict(TEAM),
            "user": _user(user),
            "api_app_id": "A0SANDBOX",
            "token": "sandbox",
            "trigger_id": f"{next(self._seq)}.{int(time.time())}.sandbox",
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        status, answer = self._post("payload=" + quote(json.dumps(payload)))
        if status != 200:
            return self._failed(user, status, answer)
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors" and isinstance(answer, dict):
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            self.fake.set_view_errors(view_id, errors)
            return Result(ok=False, errors=errors)
        if action in ("update", "push") and isinstance(answer, dict) and isinstance(answer.get("view"), dict):
            self.fake.replace_view(view_id, answer["view"])
            return Result(ok=True)
        self.fake.close_view(view_id)
        return Result(ok=True)

    def close(self, user: str, view_id: str) -> Result:
        _check_user(user)
        view = self.fake.open_view(user)
        if view is None or view.get("id") != view_id:
            raise PageError("that form is no longer open")
        self.fake.close_view(view_id)
        return Result(ok=True)

    # -- internals -------------------------------------------------------------------------------

    def _find_message(self, user: str, ts: str, ephemeral: bool) -> dict[str, Any]:
        found = (
            [m for m in self.fake.ephemerals(user) if m["ts"] == ts]
            if ephemeral
            else [m for m in self.fake.messages(CHANNEL) if m["ts"] == ts]
        )
        if not found:
            raise PageError("that message is gone")
        return found[0]

    def _post(self, raw: str, *, content_type: str = "application/x-www-form-urlencoded") -> tuple[int, Any]:
        """POST a body to the bot, signed as Slack signs it; (status, parsed JSON or text)."""
        timestamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=raw)
        req = urllib.request.Request(  # noqa: S310 - the bot's own loopback URL
            self.bot_url + EVENTS_PATH,
            data=raw.encode(),
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": str(signature),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - the bot on loopback
                return resp.status, _parse(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _parse(err.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            return 0, f"{type(reason).__name__}"

    def _failed(self, user: str, status: int, answer: Any) -> Result:
        if status == 401:
            error = "the bot rejected the request signature (HTTP 401): the signing secrets differ"
        elif status == 0:
            error = f"the bot is not reachable at {self.bot_url} ({answer})"
        else:
            error = f"the bot answered HTTP {status}"
        self.fake.add_ephemeral(CHANNEL, user, {"text": error, "sandbox_error": True})
        return Result(ok=False, error=error)


def _check_user(user: str) -> None:
    if user not in USERS:
        raise PageError(f"unknown user {user!r}")


def _user(user: str) -> dict[str, str]:
    return {"id": user, "username": USERS[user], "name": USERS[user], "team_id": TEAM["id"]}


def _shown(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("ts", "user", "text", "blocks", "thread_ts", "edit_count", "sandbox_command", "sandbox_error")
    return {k: m[k] for k in keys if k in m}


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _action(element: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    """What Slack reports of a clicked button in `actions`."""
    action: dict[str, Any] = {
        "type": element["type"],
        "action_id": action_id,
        "block_id": block_id,
        "text": element.get("text"),
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("value", "style"):
        if key in element:
            action[key] = element[key]
    return action


def _block_actions(
    user: str, trigger: str, container: dict[str, Any], action: dict[str, Any]
) -> dict[str, Any]:
    """A click's `block_actions` payload as Slack sends it, for a message or a view `container`."""
    return {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": "A0SANDBOX",
        "token": "sandbox",
        "container": container,
        "trigger_id": trigger,
        "team": dict(TEAM),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }


def _find_element(blocks: list[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any]:
    for block in blocks:
        if block.get("block_id", "") != block_id and block_id:
            continue
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("type") in _ELEMENTS and element.get("action_id") == action_id:
                return dict(element)
    raise PageError("that button is not on the message any more")


class _Handler(BaseHTTPRequestHandler):
    owner: Channel
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `make run` prints one line."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type + "; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/api/state":
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                user = query.get("user", "U0ALICE")
                since = query.get("since", "")
                if since.isdigit() and int(since) == self.owner.fake.revision:
                    self._json(200, {"revision": int(since), "unchanged": True})
                    return
                self._json(200, self.owner.state(user))
            except PageError as exc:
                self._json(400, {"ok": False, "error": str(exc)})
            return
        name = "index.html" if url.path in ("/", "/index.html") else url.path.lstrip("/")
        path = STATIC / name
        if "/" in name or path.suffix not in _CONTENT_TYPES or not path.is_file():
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, path.read_bytes(), _CONTENT_TYPES[path.suffix])

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._json(413, {"ok": False, "error": "request too large"})
            return
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(data, dict):
                raise PageError("expected a JSON object")
            user = str(data.get("user", ""))
            result = self._dispatch(path, user, data)
        except (PageError, ValueError) as exc:
            self._json(400, {"ok": False, "error": str(exc), "errors": {}})
            return
        if result is None:
            self._json(404, {"ok": False, "error": "not found", "errors": {}})
            return
        self._json(200, result.as_dict())

    def _dispatch(self, path: str, user: str, data: dict[str, Any]) -> Result | None:
        ch = self.owner
        if path == "/api/command":
            text = str(data.get("text", "")).strip()
            text = text.removeprefix("/appprofile").strip()
            return ch.command(user, text)
        if path == "/api/home":
            return ch.open_home(user)
        if path == "/api/action" and data.get("home"):
            return ch.click_home(user, str(data.get("block_id", "")), str(data.get("action_id", "")))
        if path == "/api/action":
            return ch.click(
                user,
                str(data.get("ts", "")),
                str(data.get("block_id", "")),
                str(data.get("action_id", "")),
                ephemeral=bool(data.get("ephemeral")),
            )
        if path == "/api/submit":
            raw = data.get("values") or {}
            if not isinstance(raw, dict):
                raise PageError("values must be an object")
            values = {str(k): (None if v is None else str(v)) for k, v in raw.items()}
            return ch.submit(user, str(data.get("view_id", "")), values)
        if path == "/api/close":
            return ch.close(user, str(data.get("view_id", "")))
        return None
