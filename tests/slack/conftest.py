"""The Slack side end to end on loopback: fake Slack Web API, real Store, real Service, real Bolt app
served over real HTTP, and signed requests as Slack sends them."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_sdk.signature import SignatureVerifier

from bot import catalog_files
from bot.core import policy
from bot.service import Service
from bot.slack import app as slack_app
from bot.slack import serve
from bot.store.db import Store
from sandbox.slack_api import FakeSlack
from tests import secret_key

SECRET = "test-signing-secret"
USER = "U222"
CHANNEL = "C111"

PROFILE_YAML = """\
name: counter-app
version: 1.0.0
description: Counter demo
tiers:
  - name: postgres-db
    type: postgresql
    properties: {username: pguser, databaseName: counter, volumeSize: 2, password: hunter2hunter2}
  - name: api
    type: container
    properties:
      image: ghcr.io/example/api:1.0.0
      replicas: 2
      ports: [3000]
      env:
        - {name: DB_HOST, value: "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}"}
"""


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


@dataclass
class SlackDriver:
    """Sends what Slack would send to the app: signed slash commands, clicks and submissions."""

    url: str
    fake: FakeSlack
    secret: str = SECRET
    seq: list[int] = field(default_factory=lambda: [0])

    def sign(self, raw: str, timestamp: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=raw)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}

    def post(self, raw: str, headers: dict[str, str]) -> Reply:
        req = urllib.request.Request(
            self.url,
            data=raw.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
            method="POST",
        )
        since = len(self.fake.calls)
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Reply(resp.status, resp.read().decode(), time.monotonic() - start, since=since)
        except urllib.error.HTTPError as err:
            with err:  # an HTTPError holds the response (and its socket) until closed
                return Reply(err.code, err.read().decode(), time.monotonic() - start, since=since)

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
            "trigger_id": f"111.{n}.abc",
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
        trigger = f"111.{n}.{'abc' if kind == 'commands' else 'def'}"
        call = self.fake.wait_for(
            "views.open", lambda c: c.params.get("trigger_id") == trigger, timeout, since=reply.since
        )
        assert call.ok, call.response
        view: dict[str, Any] = call.response["view"]
        return view

    def interactive(self, payload: dict[str, Any]) -> Reply:
        raw = "payload=" + quote(json.dumps(payload))
        return self.post(raw, self.sign(raw))

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
            "trigger_id": f"111.{n}.def",
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


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "appprofile.db", sealer=secret_key.sealer())


def _no_helm(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("these tests deploy no helm tiers")


@pytest.fixture
def service(store: Store) -> Service:
    config = policy.Config(clusters={"dev-cluster": policy.ClusterConfig(context="dev")})
    return Service(store=store, catalog=catalog_files.load(), config=config, charts=_no_helm)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-test")
    yield pool
    pool.shutdown(wait=True, cancel_futures=False)


@pytest.fixture
def bolt(fake: FakeSlack, service: Service, executor: ThreadPoolExecutor) -> Any:
    client = slack_app.make_client(fake.bot_token, fake.base_url)
    return slack_app.build_app(service, client=client, signing_secret=SECRET, executor=executor)


@pytest.fixture
def http_url(bolt: Any) -> Iterator[str]:
    server: WSGIServer = make_server("127.0.0.1", 0, serve.make_wsgi(bolt), handler_class=_QuietHandler)
    thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def slack(http_url: str, fake: FakeSlack) -> Iterator[SlackDriver]:
    driver = SlackDriver(url=http_url + serve.EVENTS_PATH, fake=fake)
    yield driver
    # Whatever a test did, nothing the app sent may have failed Slack's payload checks.
    assert fake.rejected() == [], [(c.method, c.response) for c in fake.rejected()]
    for call in fake.calls:
        assert len(call.params.get("blocks") or []) <= 50, call.method
