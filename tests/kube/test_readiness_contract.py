"""One readiness contract, two implementations: the executor's test double and the real adapter.

Each scenario seeds the same workload, status and pods into `ScriptedCluster` and into the
emulator behind `KubeCluster`, waits, and checks the same verdict, message and progress line.
The double may not claim behaviour production lacks: if a rule changes in one, these fail.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.ports import Cluster, ObjectRef
from bot.core.readiness import FailFast
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from tests.executor.scripted import ScriptedCluster

NS = "shop-api-ns"
REF = ObjectRef(api_version="apps/v1", kind="Deployment", name="api", namespace=NS)
POD = "api-7d9f8c6b5-x2k4q"
# Short graces keep the real adapter's waits at a second or two; the double's clock is virtual.
QUICK = FailFast(image_pull_grace=0.5, unschedulable_grace=0.5, crash_loop_restarts=3, pod_check_interval=1)


@dataclasses.dataclass
class Target:
    cluster: Cluster
    world: Any  # put(obj) / set_status(kind, ns, name, status): SimCluster or ScriptedCluster
    real: bool


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
            retries=3,
            backoff=0.01,
            max_backoff=0.05,
            discovery_cache=str(tmp_path / "discovery.json"),
        )
        kube.ensure_namespace(NS, {})
        yield Target(kube, sim, real=True)
    finally:
        sim.stop()


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "ghcr.io/x/y:404"}]},
            },
        },
    }


STALLED = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0}
READY = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}


def waiting(reason: str, message: str = "", restarts: int = 0) -> dict[str, Any]:
    state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    cs = {"name": "api", "image": "ghcr.io/x/y:404", "restartCount": restarts, "state": state}
    return {"phase": "Pending", "containerStatuses": [cs]}


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient cpu.",
        }
    ],
}


def pod(name: str, app: str, status: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS, "labels": {"app": app}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}


@dataclasses.dataclass(frozen=True)
class Scenario:
    status: dict[str, Any]
    pod: dict[str, Any] | None
    timeout: float
    ready: bool
    failed: bool
    message: str  # the whole message, exactly
    line: str | None  # the last progress line
    rules: FailFast = QUICK


SCENARIOS = {
    "ready": Scenario(READY, None, 5, True, False, "1/1 replicas available", None),
    "image pull backoff": Scenario(
        STALLED,
        waiting("ImagePullBackOff", "Back-off pulling image"),
        30,
        False,
        True,
        f"pod {POD} container api cannot pull image ghcr.io/x/y:404 (ImagePullBackOff): Back-off pulling image",
        f"0/1 ready — {POD}: ImagePullBackOff: ghcr.io/x/y:404",
    ),
    "image pull within its grace": Scenario(
        STALLED,
        waiting("ErrImagePull"),
        1,
        False,
        False,
        f"0 of 1 replicas available; pod {POD} container api cannot pull image ghcr.io/x/y:404 (ErrImagePull)",
        f"0/1 ready — {POD}: ErrImagePull: ghcr.io/x/y:404",
        FailFast(image_pull_grace=60, pod_check_interval=1),
    ),
    "crash loop": Scenario(
        STALLED,
        waiting("CrashLoopBackOff", restarts=4),
        30,
        False,
        True,
        f"pod {POD} container api keeps crashing (CrashLoopBackOff, 4 restarts)",
        f"0/1 ready — {POD}: CrashLoopBackOff: 4 restarts",
    ),
    "config error": Scenario(
        STALLED,
        waiting("CreateContainerConfigError", 'secret "db" not found'),
        30,
        False,
        True,
        f'pod {POD} container api cannot start (CreateContainerConfigError): secret "db" not found',
        f'0/1 ready — {POD}: CreateContainerConfigError: secret "db" not found',
    ),
    "unschedulable": Scenario(
        STALLED,
        UNSCHEDULABLE,
        30,
        False,
        True,
        f"pod {POD} cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu.",
        f"0/1 ready — {POD}: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
    ),
    "timeout": Scenario(STALLED, None, 1, False, False, "0 of 1 replicas available", "0/1 ready"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_readiness_contract(target: Target, name: str) -> None:
    sc = SCENARIOS[name]
    target.cluster.apply(deployment())
    target.world.set_status("Deployment", NS, "api", sc.status)
    if sc.pod is not None:
        target.world.put(pod(POD, "api", sc.pod))
        # Another workload's broken pod in the same namespace: not this wait's business.
        target.world.put(pod("other-1", "other", waiting("CreateContainerConfigError")))
    lines: list[str] = []
    started = time.monotonic()
    result = target.cluster.wait_ready(REF, timeout=sc.timeout, on_progress=lines.append, fail_fast=sc.rules)
    elapsed = time.monotonic() - started
    assert (result.ready, result.failed) == (sc.ready, sc.failed), result.message
    assert result.message == sc.message
    assert (lines[-1] if lines else None) == sc.line
    if target.real and sc.failed:
        assert elapsed < 10, f"failed only after {elapsed:.1f}s"  # within seconds, not at the timeout


def test_scope_contract(target: Target) -> None:
    assert target.cluster.scope("apps/v1", "Deployment") is True
    assert target.cluster.scope("v1", "Namespace") is False
    if not target.real:
        target.world.default_scope = None  # the double's table: kinds it was not told of are unknown
    assert target.cluster.scope("monitoring.coreos.com/v1", "PodMonitor") is None


def test_delete_contract(target: Target) -> None:
    # Missing, and of a kind the cluster does not serve: both already gone.
    target.cluster.delete(ObjectRef(api_version="v1", kind="ConfigMap", name="nope", namespace=NS))
    if not target.real:
        target.world.default_scope = None
    target.cluster.delete(
        ObjectRef(api_version="monitoring.coreos.com/v1", kind="PodMonitor", name="api", namespace=NS)
    )
