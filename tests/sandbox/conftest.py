"""One sandbox (fake Slack, two simulated clusters, the real bot as a subprocess) per module."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from sandbox.run import Sandbox

T = TypeVar("T")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.db"
    sb = Sandbox(db=str(db), ready_after=0.2).start()
    try:
        yield sb
    finally:
        sb.stop()


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
    """The first truthy result of `probe`; bounded."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not seen within {timeout}s (last: {last!r})")
