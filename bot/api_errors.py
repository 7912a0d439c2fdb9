"""Slack and Kubernetes API errors by kind, counted in this process for `/metrics`
(`appprofile_api_errors_total{api, kind}`).

Counted where the adapters map a library exception into the error tree, so every failure that
reached the bot is counted once, retries included (each failed attempt is an error the API gave).
Per process, like any Prometheus counter: Prometheus sums the replicas.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Literal

Api = Literal["slack", "kubernetes"]

_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()


def count(api: Api, kind: str) -> None:
    """One error `api` answered (`kind`: Slack's error code, an HTTP status, `timeout`…)."""
    with _lock:
        _counts[(api, kind[:64] or "unknown")] += 1


def snapshot() -> dict[tuple[str, str], int]:
    with _lock:
        return dict(_counts)
