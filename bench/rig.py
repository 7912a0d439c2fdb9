"""The bot as production composes it, on loopback: fake Slack Web API, Kubernetes emulator, waitress.

`build_bot` is the ONE place that wires the bot for the benchmarks: it goes through
`bot.compose.compose` with the settings `appprofile serve` would read from its environment, so
what is measured is the composition that runs in production. If the composition changes, only
this function needs updating.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from cryptography.fernet import Fernet
from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bench.common import helm_binary
from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack

SECRET = "bench-signing-secret"
USER = "U0BENCH"
CHANNEL = "C0BENCH"
CLUSTER = "dev-cluster"
CONTEXT = "sim-dev"

# Loopback only, never through a proxy (the Slack client honours *_proxy variables).
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = "127.0.0.1,localhost"


@dataclass
class Bot:
    app: Any  # slack_bolt.App
    service: Any  # bot.usecases.service.Service
    executor: Any  # bot.runs.loop.Executor
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def store(self) -> Any:
        return self.service.store


def build_bot(fake: FakeSlack, workdir: Path, *, kube_url: str | None = None) -> Bot:
    """The whole bot (Bolt app, service, executor with its SlackReporter), wired by
    `bot.compose.compose` from the settings `appprofile serve` reads, talking to `fake` and, when
    `kube_url` is given, to the cluster `dev-cluster` at that URL (no approval)."""
    from bot import compose, main
    from bot.settings import Settings

    kubeconfig = workdir / "kubeconfig.yaml"
    server = kube_url or "http://127.0.0.1:9"  # never contacted when no cluster is given
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
                "users": [{"name": "bench", "user": {"token": "bench-not-a-secret"}}],
                "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "bench"}}],
                "current-context": CONTEXT,
            }
        )
    )
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"clusters": {CLUSTER: {"context": CONTEXT}}}))
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "APPPROFILE_DB": str(workdir / "appprofile.db"),
        "APPPROFILE_CONFIG": str(config),
        "APPPROFILE_SECRET_KEY": Fernet.generate_key().decode(),
        "APPPROFILE_WAIT_TIMEOUT": "60",
        "KUBECONFIG": str(kubeconfig),
        "HELM_BIN": helm_binary() or "helm",
        "PATH": os.environ.get("PATH", ""),
    }
    composed = compose.compose(Settings.from_env(env))
    bot = Bot(app=composed.app, service=composed.service, executor=composed.executor)
    main.start_background(composed, bot.stop)
    return bot


# -- serving ------------------------------------------------------------------------------------


@contextlib.contextmanager
def served(wsgi: Callable[..., Iterable[bytes]]) -> Iterator[int]:
    """`wsgi` on 127.0.0.1 with waitress as `appprofile serve` runs it; yields the port."""
    server: Any = create_server(wsgi, host="127.0.0.1", port=0, ident="appprofile")
    thread = threading.Thread(target=server.run, name="bench-waitress", daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.close()
        thread.join(timeout=5)


@contextlib.contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="appprofile-bench-") as tmp:
        yield Path(tmp)


# -- Slack's side: signed requests ------------------------------------------------------------


@dataclass
class Sender:
    """Sends slash commands to a served app as Slack does (signed), and times the answer."""

    port: int
    fake: FakeSlack
    secret: str = SECRET
    seq: int = 0

    def command(self, text: str, *, channel: str = CHANNEL, user: str = USER) -> tuple[float, int, str]:
        """(seconds until the HTTP response was read, its status, the response_url name)."""
        self.seq += 1
        hook = f"bench/{self.seq}"
        body = urlencode(
            {
                "token": "legacy",
                "team_id": "T111",
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "bench",
                "user_id": user,
                "user_name": "bench",
                "command": "/appprofile",
                "text": text,
                "api_app_id": "A111",
                "is_enterprise_install": "false",
                "response_url": self.fake.webhook_url(hook),
                "trigger_id": f"111.{self.seq}.abc",
            }
        )
        seconds, status = self._post(body, "application/x-www-form-urlencoded")
        return seconds, status, hook

    def home_opened(self, user: str) -> int:
        """`user` opens the app's Home tab: a signed `app_home_opened` event; the HTTP status."""
        self.seq += 1
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T111",
                "api_app_id": "A111",
                "event": {**event, "event_ts": f"1700000000.{self.seq:06d}"},
                "type": "event_callback",
                "event_id": f"Ev{self.seq:010d}",
                "event_time": int(time.time()),
            }
        )
        return self._post(body, "application/json")[1]

    def _post(self, body: str, content_type: str) -> tuple[float, int]:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body),
        }
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        finally:
            conn.close()
        return time.perf_counter() - start, status

    def answer(self, hook: str, timeout: float = 10.0) -> Any:
        """The first post to this command's response_url (bounded wait)."""
        return self.fake.wait_for("webhook", lambda c: c.path == f"/webhook/{hook}", timeout)


@contextlib.contextmanager
def sim_cluster(ready_after: float) -> Iterator[SimCluster]:
    """The Kubernetes API emulator on 127.0.0.1; workloads become ready after `ready_after` s."""
    sim = SimCluster(controllers=True, ready_after=ready_after).start()
    try:
        yield sim
    finally:
        sim.stop()


TERMINAL = ("succeeded", "failed", "cancelled", "superseded", "rejected", "expired")


def deploy(bot: Bot, sender: Sender, text: str, deployment: str, timeout: float = 120.0) -> Any:
    """Send `/appprofile <text>` and wait (bounded) until the run of `deployment` has ended;
    returns the run, which must have succeeded."""
    before = bot.store.latest_run(CLUSTER, deployment)
    _, status, hook = sender.command(text)
    if status != 200:
        raise RuntimeError(f"/appprofile {text} answered HTTP {status}")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        run = bot.store.latest_run(CLUSTER, deployment)
        if run is not None and (before is None or run.id != before.id) and run.status in TERMINAL:
            if run.status != "succeeded":
                raise RuntimeError(f"run #{run.id} {run.status}: {run.error}")
            return run
        time.sleep(0.02)
    answers = [text_of(c) for c in sender.fake.calls_to("webhook") if c.path == f"/webhook/{hook}"]
    raise TimeoutError(f"/appprofile {text}: no finished run within {timeout:g}s; replies: {answers}")


def text_of(call: Any) -> str:
    return json.dumps(call.params, ensure_ascii=False)
