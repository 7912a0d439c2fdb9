from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot import compose
from bot.core import plan
from bot.core.events import ApprovalChanged, DriftFound, Event, Posted, RunFinished, Shown
from bot.core.records import Actor
from bot.runs.loop import Executor
from bot.settings import Settings
from tests import rig as shared_rig
from tests.executor.scripted import ScriptedCluster

EXAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "examples"


class RecordingReporter:
    """A Reporter that records the events the executor published (the Slack one is tested in
    tests/slack), as (what, run id, text) plus every run snapshot an event carried."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[tuple[str, int, str]] = []
        self.published: list[Event] = []
        self.notices: list[DriftFound] = []
        self.done = threading.Event()
        self.snapshots: list[Any] = []

    def publish(self, event: Shown) -> Posted | None:
        if isinstance(event, DriftFound):
            self.notices.append(event)
            return None
        self.published.append(event)
        run = event.view.run
        if isinstance(event, ApprovalChanged):
            self.events.append(("approval", run.id, run.status))
            return None
        if isinstance(event, RunFinished):
            self.events.append(("finished", run.id, ""))
            if event.detail:
                self.events.append(("detail", run.id, event.detail))
            self.done.set()
            return None
        self.snapshots.append(run.model_dump_json())
        if run.message_ts is None:
            self.events.append(("started", run.id, ""))
            if self.fail:
                raise RuntimeError("slack is down")
            return Posted(channel="C1", ts=f"1700000000.{run.id:06d}")
        self.events.append(("changed", run.id, ""))
        if self.fail:
            raise RuntimeError("slack is down")
        return None


class Rig:
    """The executor and the use cases over a scripted cluster, no Slack: what the executor asked to
    show is recorded. Built by the shared composition root (tests/rig.py)."""

    def __init__(self, tmp_path: Path, *, reporter_fails: bool = False) -> None:
        self.tmp_path = tmp_path
        self.cluster = ScriptedCluster()
        self.reporter_fails = reporter_fails
        self.passwords = iter(f"pw-{i:04d}-s3cr3t-value" for i in range(1000))
        self.charts = compose.chart_renderer(Settings.from_env(os.environ).clusters)
        self._reporter: RecordingReporter | None = None
        self._boot()
        self.actor = Actor(user="U1", channel="C1", user_name="alice")

    def _boot(self) -> None:
        # One reporter for the rig's lifetime: a restart keeps recording into it.
        if self._reporter is None:
            self._reporter = RecordingReporter(fail=self.reporter_fails)
        self.bot = shared_rig.build(
            self.tmp_path,
            connect=lambda name: self.cluster,
            charts=self.charts,
            reporter=self._reporter,
            password=lambda: next(self.passwords),
        )
        assert self.bot.executor is not None
        self.store, self.service, self.executor = self.bot.store, self.bot.service, self.bot.executor
        self.catalog = self.service.catalog
        self.pool = self.bot.runs

    @property
    def reporter(self) -> RecordingReporter:
        assert self._reporter is not None
        return self._reporter

    def restart(self) -> Executor:
        """A restarted bot over the same database file, cluster and reporter (nothing resumed yet)."""
        self._boot()
        return self.executor

    def create(self, name: str = "counter-app.yaml", **replace: str) -> Any:
        text = (EXAMPLES / name).read_text()
        for a, b in replace.items():
            text = text.replace(a, b)
        return self.service.create(self.actor, text)

    def wait_idle(self, timeout: float = 20.0) -> None:
        self.pool.shutdown(wait=True)
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.executor.pool = self.pool


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


__all__ = ["Rig", "plan"]
