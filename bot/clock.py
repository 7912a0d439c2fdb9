"""The wall clock, behind `ports.Clock`: the one place the app reads the time of day."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(epoch_seconds: float) -> str:
    """ISO 8601 UTC with a `Z`: sorts as text in time order, which `expires_at` checks rely on."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SystemClock:
    def now(self) -> float:
        return time.time()

    def timestamp(self, seconds_from_now: float = 0.0) -> str:
        return iso(self.now() + seconds_from_now)
