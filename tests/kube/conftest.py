"""A fresh Kubernetes emulator on 127.0.0.1 per test, and an adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kube(sim: SimCluster) -> KubeCluster:
    # Short backoff keeps the fault tests quick; the bounds themselves are what is tested.
    return KubeCluster("test", sim.api_client(), retries=3, backoff=0.01, max_backoff=0.05)
