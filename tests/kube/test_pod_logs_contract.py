"""One `pod_logs` contract, two implementations: the scripted double and the real adapter
against the emulator (`pods/log` over HTTP through the official client).

Each scenario seeds the same pods and kubelet logs into `ScriptedCluster` and into the emulator
behind `KubeCluster`, reads a tier's logs, and expects the same list of `PodLog`s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import ClusterError
from bot.core.ports import Cluster, PodLog
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from tests.executor.scripted import ScriptedCluster

NS = "shop-api-ns"
TIER = {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "api"}
OTHER = {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "ui"}


@dataclasses.dataclass
class Target:
    cluster: Cluster
    world: Any  # put(obj) / set_log(ns, pod, container, text, previous): SimCluster or ScriptedCluster
    real: bool
    sim: SimCluster | None = None


@pytest.fixture(params=["scripted", "kube"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "scripted":
        double = ScriptedCluster("test", controllers=False)
        yield Target(double, double, real=False)
        return
    sim = SimCluster().start()
    try:
        kube = KubeCluster(
            "test",
            sim.api_client(),
            retries=2,
            backoff=0.01,
            max_backoff=0.05,
            discovery_cache=str(tmp_path / "discovery.json"),
        )
        kube.ensure_namespace(NS, {})
        yield Target(kube, sim, real=True, sim=sim)
    finally:
        sim.stop()


def running(name: str) -> dict[str, Any]:
    return {"name": name, "restartCount": 0, "ready": True, "state": {"running": {}}}


def crashing(name: str, restarts: int) -> dict[str, Any]:
    return {
        "name": name,
        "restartCount": restarts,
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }


def pulling(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "restartCount": 0,
        "ready": False,
        "state": {"waiting": {"reason": "ImagePullBackOff"}},
    }


def pod(name: str, labels: dict[str, str], *statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"containers": [{"name": s["name"], "image": f"ghcr.io/x/{s['name']}:1"} for s in statuses]},
        "status": {"phase": "Running", "containerStatuses": list(statuses)},
    }


def test_a_crashed_container_comes_with_its_previous_one(target: Target) -> None:
    target.world.put(pod("api-7d9f-b", TIER, crashing("api", 3), running("sidecar")))
    target.world.set_log(NS, "api-7d9f-b", "api", "boot 1\npanic: db password wrong\nexit 1\n", True)
    target.world.set_log(NS, "api-7d9f-b", "api", "boot 2\nretrying db\n", False)
    target.world.set_log(NS, "api-7d9f-b", "sidecar", "s1\ns2\ns3\n", False)
    # A second pod of the tier (listed by name), and another tier's pod in the same namespace.
    target.world.put(pod("api-7d9f-a", TIER, running("api"), running("sidecar")))
    target.world.set_log(NS, "api-7d9f-a", "api", "ready\n", False)
    target.world.put(pod("ui-1", OTHER, running("ui")))
    target.world.set_log(NS, "ui-1", "ui", "not this tier\n", False)

    logs = target.cluster.pod_logs(NS, TIER, lines=2)

    assert logs == [
        PodLog(pod="api-7d9f-a", container="api", text="ready\n"),
        PodLog(pod="api-7d9f-a", container="sidecar", text=""),
        PodLog(pod="api-7d9f-b", container="api", previous=True, text="panic: db password wrong\nexit 1\n"),
        PodLog(pod="api-7d9f-b", container="api", text="boot 2\nretrying db\n"),
        PodLog(pod="api-7d9f-b", container="sidecar", text="s2\ns3\n"),
    ]


def test_a_previous_container_the_kubelet_no_longer_has_is_left_out(target: Target) -> None:
    # restartCount above 0, but no previous log: the API answers 400, which is no error.
    target.world.put(pod("api-1", TIER, crashing("api", 1)))
    target.world.set_log(NS, "api-1", "api", "second start\n", False)

    assert target.cluster.pod_logs(NS, TIER, lines=50) == [
        PodLog(pod="api-1", container="api", text="second start\n")
    ]


def test_a_container_waiting_to_start_says_why_it_has_no_log(target: Target) -> None:
    target.world.put(pod("api-1", TIER, pulling("api")))

    assert target.cluster.pod_logs(NS, TIER, lines=50) == [
        PodLog(
            pod="api-1",
            container="api",
            note='container "api" in pod "api-1" is waiting to start: trying and failing to pull image',
        )
    ]


def test_no_pods_and_no_namespace_are_empty(target: Target) -> None:
    target.world.put(pod("ui-1", OTHER, running("ui")))
    assert target.cluster.pod_logs(NS, TIER, lines=50) == []
    assert target.cluster.pod_logs("nowhere-ns", TIER, lines=50) == []


@pytest.fixture
def real(tmp_path: Path) -> Iterator[Target]:
    sim = SimCluster().start()
    try:
        kube = KubeCluster(
            "test", sim.api_client(), retries=2, backoff=0.01, discovery_cache=str(tmp_path / "d.json")
        )
        kube.ensure_namespace(NS, {})
        yield Target(kube, sim, real=True, sim=sim)
    finally:
        sim.stop()


def test_the_real_adapter_retries_a_5xx_and_names_what_a_403_needs(real: Target) -> None:
    target = real
    assert target.sim is not None
    target.world.put(pod("api-1", TIER, running("api")))
    target.world.set_log(NS, "api-1", "api", "hello\n", False)
    target.sim.fail_next("GET", r"/pods/api-1/log", 503)
    assert target.cluster.pod_logs(NS, TIER, lines=5) == [
        PodLog(pod="api-1", container="api", text="hello\n")
    ]

    target.sim.fail_next("GET", r"/pods/api-1/log", 403, times=5)
    with pytest.raises(ClusterError) as info:
        target.cluster.pod_logs(NS, TIER, lines=5)
    assert info.value.status == 403
    assert "forbidden to get pods/log in `shop-api-ns`" in info.value.message
    assert info.value.hint == "the bot's service account needs `get` on `pods/log` in `shop-api-ns`"
    sent = [r for r in target.sim.requests if r.url.path.endswith("/log")]
    assert sent[-1].params.get("tailLines") == "5" and sent[-1].params.get("container") == "api"
