"""Approvals through the real Bolt app: signed requests in (dispatched in-process), a fake Slack Web
API out, a real store, the real executor over a scripted cluster (what is applied is visible), a
controllable clock. The bot is built by the shared rig (tests/rig.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.core import policy
from bot.core.records import Run
from bot.usecases.service import Service
from sandbox.slack_api import Call, FakeSlack
from tests import rig
from tests.executor.scripted import ScriptedCluster
from tests.rig import SlackDriver

EXAMPLE = (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
SECRET = "approvals-secret"
REQUESTER = "U0REQ"
APPROVER_A = "U0AAA"
APPROVER_B = "U0BBB"
LEAD = "U0LEAD"
OUTSIDER = "U0OUT"
PROD_CHANNEL = "C0PROD"
# Who is in the usergroups the approval config names (S0LEADS approves, S0PLATFORM deletes).
USERGROUPS = {"S0LEADS": [LEAD], "S0PLATFORM": [APPROVER_A]}


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
    bots: list[rig.Bot] = field(default_factory=list)

    def boot(self) -> tuple[Service, SlackDriver]:
        """The bot as production wires it (tests/rig.py build), over the scripted cluster; a
        restart is a second boot over the same database file."""
        bot = rig.build(
            self.tmp,
            config=self.config,
            fake=self.fake,
            connect=lambda _name: self.cluster,
            charts=lambda *a: "",
            clock=self.clock,
            signing_secret=SECRET,
        )
        self.bots.append(bot)
        return bot.service, bot.driver()

    def run_ended(self, run_id: int, timeout: float = 15.0) -> Run:
        """The run once its progress message shows it ended (matched by the run's own id)."""
        return rig.run_ended(self.fake, self.bots[-1].store, run_id, timeout)

    def close(self) -> None:
        for bot in self.bots:
            bot.close()


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
    """make(config=YAML, usergroups={...}) or make(required=, self_approval=, expires=) for the
    approval config; `boot()` the world's bot as often as a test restarts it."""
    worlds: list[World] = []

    def make(
        *, config: str | None = None, usergroups: dict[str, list[str]] | None = None, **kw: Any
    ) -> World:
        fake = FakeSlack().start()
        for group, users in {**USERGROUPS, **(usergroups or {})}.items():
            fake.set_usergroup(group, users)
        text = config if config is not None else config_text(**kw)
        w = World(tmp=tmp_path, fake=fake, clock=Clock(), config=policy.load(text))
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        w.close()
        rig.check_slack(w.fake)
        w.fake.stop()
