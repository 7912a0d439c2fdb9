from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot import catalog_files
from bot.core import plan
from bot.core.records import Actor
from bot.executor import Executor
from bot.service import Service
from bot.store.db import Store
from tests import secret_key
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
    def __init__(self, tmp_path: Path, *, reporter_fails: bool = False) -> None:
        from bot import main

        self.store = Store(str(tmp_path / "app.db"), sealer=secret_key.sealer())
        self.catalog = catalog_files.load()
        self.cluster = ScriptedCluster()
        self.reporter = RecordingReporter(self.store, fail=reporter_fails)
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.passwords = iter(f"pw-{i:04d}-s3cr3t-value" for i in range(1000))
        self.executor = Executor(
            self.store,
            self.catalog,
            lambda name: self.cluster,
            main.chart_renderer(main.Settings.from_env().helm_bin),
            self.reporter,
            self.pool,
            wait_timeout=5,
            password=lambda: next(self.passwords),
        )
        self.service = Service(
            store=self.store,
            catalog=self.catalog,
            config=__import__("bot.core.policy", fromlist=["load"]).load(
                "clusters:\n  dev-cluster: {context: dev}\n"
            ),
            charts=self.executor.charts,
            executor=self.executor,
        )
        self.actor = Actor(user="U1", channel="C1", user_name="alice")

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
