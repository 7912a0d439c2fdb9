"""The one composition root for every in-process test rig, and the Slack driver that talks to it.

`build()` is the only place tests construct the bot's parts (Store, Service, Executor,
SlackReporter, the Bolt app): the Slack tests, the approvals world, the security suite and the
executor rig all call it. When production wiring changes, this function changes with it.

`SlackDriver` sends what Slack would send, signed with the app's signing secret. By default it
dispatches each request in-process through `App.dispatch(BoltRequest)`: Bolt's own middleware
(signature verification included) and listeners run exactly as behind the HTTP server, the ack
comes back at once and the work goes on in the background. Tests of the HTTP layer itself
(`bot.slack.serve`: /healthz, routing, non-UTF-8 and oversized bodies, headers as they cross
the wire) use `slack_http`, the same driver over real HTTP to the WSGI app on loopback.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot import clock as clock_mod
from bot import compose
from bot.core import plan, policy
from bot.core.ports import Cluster, LocalTime, Reporter
from bot.core.records import Run
from bot.runs.loop import Executor
from bot.settings import RunSettings, Settings, SlackSettings, StoreSettings
from bot.slack import serve
from bot.store.db import Store
from bot.usecases.service import Service
from sandbox.slack_api import Call, FakeSlack
from tests import secret_key

SECRET = "test-signing-secret"
USER = "U222"
CHANNEL = "C111"
DEFAULT_CONFIG = "clusters:\n  dev-cluster: {context: dev}\n"
# How a request's answers are told apart: its response_url and trigger_id carry its number.
_TRIGGER_SUFFIX = {"commands": "abc", "actions": "def"}


def no_helm(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("this rig renders no helm tiers (pass charts= to build())")


# -- the composition root --------------------------------------------------------------------------


@dataclass
class Bot:
    """One bot as a test sees it: what `compose` built, plus the fake Slack it talks to.
    `executor` is None for a bot without clusters (deploys stop at the plan preview); `app` and
    `client` are None for a bot without Slack (`fake=None`)."""

    composed: compose.Bot
    fake: FakeSlack | None
    signing_secret: str
    _servers: list[tuple[WSGIServer, threading.Thread]] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.composed.store

    @property
    def service(self) -> Service:
        return self.composed.service

    @property
    def executor(self) -> Executor | None:
        return self.composed.executor

    @property
    def app(self) -> App | None:
        return self.composed.app

    @property
    def client(self) -> WebClient | None:
        return self.composed.client

    @property
    def runs(self) -> concurrent.futures.Executor:
        assert self.executor is not None, "this bot was built without clusters (connect=None)"
        return self.executor.pool

    def slack_app(self) -> App:
        assert self.app is not None, "this bot was built without Slack (fake=None)"
        return self.app

    def slack_fake(self) -> FakeSlack:
        assert self.fake is not None, "this bot was built without Slack (fake=None)"
        return self.fake

    def driver(self) -> SlackDriver:
        """Signed requests dispatched in-process (the default for everything but the HTTP layer)."""
        return SlackDriver.in_process(self.slack_app(), self.slack_fake(), secret=self.signing_secret)

    def serve_http(self) -> str:
        """Serve the app as production does (`serve.make_wsgi`) on a loopback port; its base URL."""
        server = make_server("127.0.0.1", 0, serve.make_wsgi(self.slack_app()), handler_class=_QuietHandler)
        thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True)
        thread.start()
        self._servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    def http_driver(self, base_url: str | None = None) -> SlackDriver:
        """Signed requests over real HTTP, through the WSGI layer in front of Bolt."""
        url = (base_url or self.serve_http()) + serve.EVENTS_PATH
        return SlackDriver.over_http(url, self.slack_fake(), secret=self.signing_secret)

    def run_ended(self, run_id: int, timeout: float = 15.0) -> Run:
        return run_ended(self.slack_fake(), self.store, run_id, timeout)

    def close(self) -> None:
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        self._servers.clear()
        self.composed.close()


class FnClock:
    """A `ports.Clock` over a test's time function (approval expiry, tier timings)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now

    def timestamp(self, seconds_from_now: float = 0.0) -> str:
        return clock_mod.iso(self.now() + seconds_from_now)

    def local(self, timezone: str) -> LocalTime:
        return clock_mod.local_time(self.now(), timezone)


def build(
    tmp_path: Path,
    *,
    config: policy.Config | str | None = None,
    fake: FakeSlack | None = None,
    connect: Callable[[str], Cluster] | None = None,
    charts: plan.ChartRenderer | None = None,
    reporter: Reporter | None = None,
    clock: Callable[[], float] | None = None,
    wait_timeout: float = 5.0,
    password: Callable[[], str] | None = None,
    signing_secret: str = SECRET,
    db: str = "app.db",
    work_threads: int = 4,
    run_threads: int = 2,
) -> Bot:
    """The bot as production composes it (`bot.compose.compose`), over a sealed SQLite file in
    `tmp_path` (a second build over the same `tmp_path` and `db` is a restart).

    - `config`: policy YAML or a loaded Config; default: one cluster, `dev-cluster`.
    - `fake`: the Slack Web API the client talks to; with it the Bolt app and (by default) the
      SlackReporter are built, redrawing at once. Without it there is no Slack (pass `reporter`).
    - `connect`: cluster name → Cluster. Without it the bot has no run loop: deploys stop at
      the plan preview.
    - `charts`: the helm renderer; default: none (a helm tier fails the test that renders it).
    - `reporter`: instead of the SlackReporter. Usergroup membership is never cached (ttl 0).
    - `clock`: the bot's clock (approval expiry, timings); `password`: generated passwords.
    """
    if isinstance(config, str):
        config = policy.load(config)
    elif config is None:
        config = policy.load(DEFAULT_CONFIG)
    settings = Settings(
        slack=SlackSettings(
            bot_token=fake.bot_token if fake is not None else None,
            signing_secret=signing_secret,
            api_url=fake.base_url if fake is not None else None,
            redraw_interval=0.0,
            usergroup_ttl=0.0,
            workers=work_threads,
        ),
        store=StoreSettings(db=str(tmp_path / db), secret_key=secret_key.KEY),
        runs=RunSettings(wait_timeout=wait_timeout, workers=run_threads),
    )
    composed = compose.compose(
        settings,
        clock=FnClock(clock) if clock is not None else None,
        connect=connect,
        charts=charts or no_helm,
        reporter=reporter,
        password=password,
        config=config,
        deploys=connect is not None,
    )
    return Bot(composed=composed, fake=fake, signing_secret=signing_secret)


# -- waiting for what a request caused ------------------------------------------------------------


def _run_payload(call: Call) -> dict[str, Any]:
    meta = call.params.get("metadata")
    if isinstance(meta, str):
        meta = json.loads(meta)
    payload = (meta or {}).get("event_payload") if isinstance(meta, dict) else None
    return payload if isinstance(payload, dict) else {}


def run_ended(fake: FakeSlack, store: Store, run_id: int, timeout: float = 15.0) -> Run:
    """Run `run_id` once its progress message shows that it ended (succeeded or failed).

    The message is drawn from the store after the terminal status is written (its metadata
    carries the run id and status), so the store says the same when this returns."""

    def ended(call: Call) -> bool:
        payload = _run_payload(call)
        return payload.get("run_id") == run_id and payload.get("status") in ("succeeded", "failed")

    fake.wait_for("chat.update", ended, timeout)
    return store.get_run(run_id)


def check_slack(fake: FakeSlack) -> None:
    """Whatever a test did, nothing the app sent may have failed Slack's payload checks."""
    assert fake.rejected() == [], [(c.method, c.response) for c in fake.rejected()]
    for call in fake.calls:
        assert len(call.params.get("blocks") or []) <= 50, call.method


# -- the driver -------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Reply:
    status: int
    body: str
    elapsed: float
    # The request's own response_url name (`commands/3`, `actions/4`): its answers arrive there.
    hook: str = ""
    # How many Web API calls the fake had seen before this request was sent.
    since: int = 0

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_COUNTERS: weakref.WeakKeyDictionary[FakeSlack, list[int]] = weakref.WeakKeyDictionary()

# A signed request (body, headers) → the response (status, body).
Transport = Callable[[str, dict[str, str]], tuple[int, str]]


def dispatch_transport(app: App) -> Transport:
    """Into `app.dispatch` as Bolt's WSGI adapter calls it (`SlackRequestHandler.dispatch`):
    the raw body as text, the query string, the headers lower-cased. What `serve.make_wsgi`
    does before that (routing, refusing oversized or non-UTF-8 bodies) is HTTP-layer behaviour,
    tested over HTTP; a request it would refuse is refused here too, loudly, so the two never
    differ."""

    def send(raw: str, headers: dict[str, str]) -> tuple[int, str]:
        data = raw.encode("utf-8")
        assert len(data) <= serve.MAX_BODY, "the HTTP layer refuses this body (413): use slack_http"
        sent = {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(len(data)),
            **{k.lower(): v for k, v in headers.items()},
        }
        resp = app.dispatch(BoltRequest(body=raw, query="", headers=dict(sent)))
        return resp.status, resp.body

    return send


def http_transport(url: str) -> Transport:
    def send(raw: str, headers: dict[str, str]) -> tuple[int, str]:
        req = urllib.request.Request(
            url,
            data=raw.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:  # an HTTPError holds the response (and its socket) until closed
                return err.code, err.read().decode()

    return send


@dataclass
class SlackDriver:
    """Sends what Slack would send to the app: signed slash commands, clicks and submissions."""

    fake: FakeSlack
    transport: Transport
    secret: str = SECRET
    # The events URL when the driver speaks HTTP ("" in-process).
    url: str = ""
    # Request numbers (in response_url and trigger_id names): one counter per fake, shared by
    # every driver that talks to it (a restarted bot, HTTP beside in-process), so no two
    # requests share an answer address or, sent in the same second, a signature.
    seq: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.seq:
            self.seq = _COUNTERS.setdefault(self.fake, [0])

    @classmethod
    def in_process(cls, app: App, fake: FakeSlack, *, secret: str = SECRET) -> SlackDriver:
        return cls(fake=fake, transport=dispatch_transport(app), secret=secret)

    @classmethod
    def over_http(cls, url: str, fake: FakeSlack, *, secret: str = SECRET) -> SlackDriver:
        return cls(fake=fake, transport=http_transport(url), secret=secret, url=url)

    def sign(self, raw: str, timestamp: str | None = None, *, secret: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        signature = SignatureVerifier(secret or self.secret).generate_signature(timestamp=ts, body=raw)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}

    def post(self, raw: str, headers: dict[str, str]) -> Reply:
        since = len(self.fake.calls)
        start = time.monotonic()
        status, body = self.transport(raw, headers)
        return Reply(status, body, time.monotonic() - start, since=since)

    def _next(self) -> int:
        self.seq[0] += 1
        return self.seq[0]

    def command_body(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> dict[str, str]:
        n = self._next()
        return {
            "token": "legacy",
            "team_id": "T111",
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": "/appprofile",
            "text": text,
            "api_app_id": "A111",
            "is_enterprise_install": "false",
            "response_url": self.fake.webhook_url(f"commands/{n}"),
            "trigger_id": f"111.{n}.{_TRIGGER_SUFFIX['commands']}",
        }

    def command(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> Reply:
        body = self.command_body(text, user=user, channel=channel)
        raw = urlencode(body)
        reply = self.post(raw, self.sign(raw))
        reply.hook = body["response_url"].rsplit("/webhook/", 1)[1]
        return reply

    def posted(self, reply: Reply, contains: str, timeout: float = 10.0) -> Any:
        """The first channel message posted after this request was sent that contains `contains`."""
        return self.fake.wait_for(
            "chat.postMessage",
            lambda c: contains in json.dumps(c.params, ensure_ascii=False),
            timeout,
            since=reply.since,
        )

    def thread(self, posted: Any, contains: str = "", timeout: float = 10.0) -> str:
        """The text of the thread replies under the channel message `posted` (long YAML, diffs),
        once one of them contains `contains`."""
        # `posted` may itself be a thread reply (its text names the same version): use its parent.
        ts = posted.params.get("thread_ts") or posted.response["ts"]
        self.fake.wait_for(
            "chat.postMessage",
            lambda c: (
                c.params.get("thread_ts") == ts and contains in json.dumps(c.params, ensure_ascii=False)
            ),
            timeout,
        )
        parts = [c.params for c in self.fake.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts]
        return json.dumps(parts, ensure_ascii=False)

    def answer(self, reply: Reply, contains: str = "", timeout: float = 10.0) -> Any:
        """The first answer to this request's own response_url (containing `contains`): never
        an answer that belongs to an earlier request, whatever order the two arrive in."""
        path = f"/webhook/{reply.hook}"
        return self.fake.wait_for(
            "webhook",
            lambda c: c.path == path and contains in json.dumps(c.params, ensure_ascii=False),
            timeout,
        )

    def opened(self, reply: Reply, timeout: float = 10.0) -> dict[str, Any]:
        """The form (view) this command or click opened, matched by its own trigger_id."""
        kind, _, n = reply.hook.partition("/")
        trigger = f"111.{n}.{_TRIGGER_SUFFIX[kind]}"
        call = self.fake.wait_for(
            "views.open", lambda c: c.params.get("trigger_id") == trigger, timeout, since=reply.since
        )
        assert call.ok, call.response
        view: dict[str, Any] = call.response["view"]
        return view

    def interactive(self, payload: dict[str, Any]) -> Reply:
        raw = "payload=" + quote(json.dumps(payload))
        return self.post(raw, self.sign(raw))

    def event(self, event: dict[str, Any], *, secret: str | None = None) -> Reply:
        """An Events API request as Slack sends it: an `event_callback` JSON body carrying `event`
        (numbered, so no two share a signature), signed with `secret` (default: the app's)."""
        n = self._next()
        body = {
            "token": "legacy",
            "team_id": "T111",
            "api_app_id": "A111",
            "event": {"event_ts": f"1700000000.{n:06d}", **event},
            "type": "event_callback",
            "event_id": f"Ev{n:010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": "T111",
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        raw = json.dumps(body)
        return self.post(raw, {"Content-Type": "application/json", **self.sign(raw, secret=secret)})

    def click(self, action: dict[str, Any], *, user: str = USER, channel: str = CHANNEL) -> Reply:
        n = self._next()
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T111"},
            "api_app_id": "A111",
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": "1700000000.000001",
                "channel_id": channel,
                "is_ephemeral": True,
            },
            "trigger_id": f"111.{n}.{_TRIGGER_SUFFIX['actions']}",
            "team": {"id": "T111", "domain": "acme"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "general"},
            "state": {"values": {}},
            "response_url": self.fake.webhook_url(f"actions/{n}"),
            "actions": [{**action, "action_ts": "1700000001.000300"}],
        }
        reply = self.interactive(payload)
        reply.hook = f"actions/{n}"
        return reply

    def submit(self, view: dict[str, Any], values: dict[str, str], *, user: str = USER) -> Reply:
        """Submit an opened view (as the fake stored it) with `values` typed into its inputs."""
        state = {
            # What the person typed, else what the form was prefilled with (as Slack submits it).
            b["block_id"]: {
                "value": {
                    "type": "plain_text_input",
                    "value": values.get(b["block_id"], (b.get("element") or {}).get("initial_value")),
                }
            }
            for b in view["blocks"]
            if b.get("type") == "input"
        }
        payload = {
            "type": "view_submission",
            "team": {"id": "T111", "domain": "acme"},
            "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T111"},
            "api_app_id": "A111",
            "token": "legacy",
            "trigger_id": f"111.{self._next()}.ghi",
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.interactive(payload)


# -- fixtures (exposed to every test through tests/conftest.py) ------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def bot(tmp_path: Path, fake: FakeSlack) -> Iterator[Bot]:
    """The Slack tests' bot: no clusters (deploys stop at the plan preview), no helm."""
    built = build(tmp_path, fake=fake, db="appprofile.db", work_threads=2)
    yield built
    built.close()


@pytest.fixture
def store(bot: Bot) -> Store:
    return bot.store


@pytest.fixture
def service(bot: Bot) -> Service:
    return bot.service


@pytest.fixture
def bolt(bot: Bot) -> App:
    return bot.slack_app()


@pytest.fixture
def http_url(bot: Bot) -> str:
    """The app behind the production WSGI layer on a loopback port (base URL, no path)."""
    return bot.serve_http()


@pytest.fixture
def slack(bot: Bot, fake: FakeSlack) -> Iterator[SlackDriver]:
    """Signed requests, dispatched in-process into the app."""
    yield bot.driver()
    check_slack(fake)


@pytest.fixture
def slack_http(bot: Bot, fake: FakeSlack, http_url: str) -> Iterator[SlackDriver]:
    """Signed requests over real HTTP, for tests of the HTTP layer."""
    yield bot.http_driver(http_url)
    check_slack(fake)
