"""End to end through the real `kubernetes` client against the emulator on loopback.

The emulator's controllers make workloads ready after a short delay and give LoadBalancers an
address, so the executor's watch-based waiting, output reading and pruning run for real over HTTP.
Not covered offline: SSA field ownership/conflicts, admission, real kubelet timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.commands import DeployRequest
from bot.kube.cluster import KubeCluster
from sandbox.kube import LOAD_BALANCER_IP, SimCluster
from tests.executor.conftest import EXAMPLES, Rig


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster(controllers=True, ready_after=0.2).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def rig(tmp_path: Path, sim: SimCluster) -> Rig:
    r = Rig(tmp_path)
    real = KubeCluster("dev-cluster", sim.api_client(), retries=3, backoff=0.01)
    r.executor.connect = lambda name: real
    return r


def test_counter_app_deploys_through_the_real_client(rig: Rig, sim: SimCluster) -> None:
    rig.create()
    ticket = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    rig.wait_idle()
    run = rig.store.get_run(ticket.run_id or 0)
    assert run.status == "succeeded", run.error
    api = sim.get("Deployment", "counter-app-api-ns", "counter-app-api")
    assert api is not None
    labels = api["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "appprofile"
    assert labels["appprofile.dev/deployment"] == "counter-app"
    assert labels["appprofile.dev/tier"] == "api"
    assert labels["appprofile.dev/profile-version"] == "1.0.0"
    # Applied with server-side apply under our field manager.
    patches = [r for r in sim.requests if r.method == "PATCH"]
    assert patches and all(r.params.get("fieldManager") == "appprofile" for r in patches)
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None
    assert dep.outputs["ui"]["CONTAINER_SVC_EXTERNALIP"] == LOAD_BALANCER_IP
    assert dep.outputs["postgres-db"]["PASSWORD"] == "••••••"
    generated = sim.get("Secret", "counter-app-postgres-db-ns", "counter-app-postgres-db-generated")
    assert generated is not None and "password" in {k.lower() for k in generated["data"]}


def test_helm_tier_renders_with_real_helm_and_deploys(rig: Rig, sim: SimCluster) -> None:
    rec = rig.service.create(rig.actor, (EXAMPLES / "web-helm.yaml").read_text())
    ticket = rig.service.deploy(rig.actor, DeployRequest(profile=rec.name, cluster="dev-cluster", sets={}))
    rig.wait_idle()
    run = rig.store.get_run(ticket.run_id or 0)
    assert run.status == "succeeded", run.error
    dep = rig.store.get_deployment("dev-cluster", rec.name)
    assert dep is not None
    kinds = {i["kind"] for i in dep.inventory if i["tier"] == "web"}
    assert {"Deployment", "Service"} <= kinds


def test_delete_with_purge_removes_namespaces(rig: Rig, sim: SimCluster) -> None:
    rig.create()
    rig.service.deploy(rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={}))
    rig.wait_idle()
    rig.service.delete(rig.actor, "counter-app", None, purge=True)
    rig.wait_idle()
    assert sim.get("Deployment", "counter-app-api-ns", "counter-app-api") is None
    assert sim.get("Namespace", None, "counter-app-postgres-db-ns") is None
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.status == "deleted"
