from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.core import plan
from bot.core.records import Actor
from bot.executor import Executor
from bot.store.db import Store
from tests import rig as shared_rig
from tests.executor.scripted import ScriptedCluster

EXAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "examples"


class RecordingReporter:
    """A Reporter that records what the executor asked to show (the Slack one is tested in tests/slack)."""

    def __init__(self, store: Store, *, fail: bool = False) -> None:
        self.store = store
        self.fail = fail
        self.events: list[tuple[str, int, str]] = []
        self.done = threading.Event()
        self.snapshots: list[Any] = []

    def started(self, run_id: int) -> tuple[str, str] | None:
        self.events.append(("started", run_id, ""))
        if self.fail:
            raise RuntimeError("slack is down")
        return ("C1", f"1700000000.{run_id:06d}")

    def changed(self, run_id: int) -> None:
        self.snapshots.append(self.store.get_run(run_id).model_dump_json())
        self.events.append(("changed", run_id, ""))
        if self.fail:
            raise RuntimeError("slack is down")

    def finished(self, run_id: int) -> None:
        self.events.append(("finished", run_id, ""))
        self.done.set()

    def detail(self, run_id: int, text: str) -> None:
        self.events.append(("detail", run_id, text))

    def approval(self, run_id: int) -> None:
        self.events.append(("approval", run_id, self.store.get_run(run_id).status))


class Rig:
    """The executor and the use cases over a scripted cluster, no Slack: what the executor asked to
    show is recorded. Built by the shared composition root (tests/rig.py)."""

    def __init__(self, tmp_path: Path, *, reporter_fails: bool = False) -> None:
        from bot import main

        self.tmp_path = tmp_path
        self.cluster = ScriptedCluster()
        self.reporter_fails = reporter_fails
        self.passwords = iter(f"pw-{i:04d}-s3cr3t-value" for i in range(1000))
        self.charts = main.chart_renderer(main.Settings.from_env().helm_bin)
        self._reporter: RecordingReporter | None = None
        self._boot()
        self.actor = Actor(user="U1", channel="C1", user_name="alice")

    def _boot(self) -> None:
        def reporter(store: Store) -> RecordingReporter:
            # One reporter for the rig's lifetime: a restart keeps recording into it.
            if self._reporter is None:
                self._reporter = RecordingReporter(store, fail=self.reporter_fails)
            self._reporter.store = store
            return self._reporter

        self.bot = shared_rig.build(
            self.tmp_path,
            connect=lambda name: self.cluster,
            charts=self.charts,
            reporter=reporter,
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
