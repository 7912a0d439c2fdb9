"""Approvals through the real Bolt app: signed requests in, a fake Slack Web API out, a real store,
the real executor over a scripted cluster (what is applied is visible), a controllable clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

import pytest

from bot import catalog_files
from bot.core import policy
from bot.executor import Executor
from bot.service import Service
from bot.slack import app as slack_app
from bot.slack import serve
from bot.slack.groups import UsergroupCache
from bot.slack.progress import SlackReporter
from bot.store.db import Store
from sandbox.slack_api import Call, FakeSlack
from tests import secret_key
from tests.executor.scripted import ScriptedCluster
from tests.slack.conftest import SlackDriver, _QuietHandler

EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
REQUESTER = "U0REQ"
APPROVER_A = "U0AAA"
APPROVER_B = "U0BBB"
LEAD = "U0LEAD"
OUTSIDER = "U0OUT"
PROD_CHANNEL = "C0PROD"


def config_text(required: int = 1, self_approval: bool = False, expires: str = "1h") -> str:
    return f"""
clusters:
  dev-cluster: {{context: dev}}
  prod:
    context: prod
    channels: [{PROD_CHANNEL}]
    approval:
      required: {required}
      approvers: [{REQUESTER}, {APPROVER_A}, {APPROVER_B}, S0LEADS]
      self_approval: {str(self_approval).lower()}
      expires_after: {expires}
access:
  create: ["*"]
  deploy: ["*"]
  delete: [S0PLATFORM]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    tmp: Path
    fake: FakeSlack
    clock: Clock
    config: policy.Config
    cluster: ScriptedCluster = field(default_factory=lambda: ScriptedCluster("prod"))
    pools: list[ThreadPoolExecutor] = field(default_factory=list)
    servers: list[tuple[WSGIServer, threading.Thread]] = field(default_factory=list)

    def boot(self) -> tuple[Service, SlackDriver]:
        """Build the bot as main.build_bot does (a restart is a second boot over the same file)."""
        store = Store(self.tmp / "app.db", now=self.clock, sealer=secret_key.sealer())
        catalog = catalog_files.load()
        client = slack_app.make_client(self.fake.bot_token, self.fake.base_url)
        work = ThreadPoolExecutor(max_workers=4)
        runs = ThreadPoolExecutor(max_workers=2)
        self.pools += [work, runs]
        service = Service(
            store=store,
            catalog=catalog,
            config=self.config,
            charts=lambda *a: "",
            groups_of=UsergroupCache(client, ["S0LEADS", "S0PLATFORM"], ttl=0.0),
        )
        reporter = SlackReporter(client, store, tally=service.approval_tally, min_interval=0.0)
        service.executor = Executor(
            store, catalog, lambda n: self.cluster, service.charts, reporter, runs, wait_timeout=5
        )
        bolt = slack_app.build_app(service, client=client, signing_secret="approvals-secret", executor=work)
        server = make_server("127.0.0.1", 0, serve.make_wsgi(bolt), handler_class=_QuietHandler)
        thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True)
        thread.start()
        self.servers.append((server, thread))
        url = f"http://127.0.0.1:{server.server_port}{serve.EVENTS_PATH}"
        return service, SlackDriver(url=url, fake=self.fake, secret="approvals-secret")

    def close(self) -> None:
        for server, thread in self.servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
        for pool in self.pools:
            pool.shutdown(wait=True)


def text_of(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def card_value(card: dict[str, Any]) -> str:
    for block in card.get("blocks") or []:
        if block.get("type") == "actions":
            for el in block["elements"]:
                if el.get("action_id") == "approval_approve":
                    return str(el["value"])
    raise AssertionError(f"no Approve button on {card}")


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Any]:
    worlds: list[World] = []

    def make(**kw: Any) -> World:
        fake = FakeSlack().start()
        fake.set_usergroup("S0LEADS", [LEAD])
        fake.set_usergroup("S0PLATFORM", [APPROVER_A])
        w = World(tmp=tmp_path, fake=fake, clock=Clock(), config=policy.load(config_text(**kw)))
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.close()
        assert w.fake.rejected() == [], [(c.method, c.response) for c in w.fake.rejected()]
        w.fake.stop()
