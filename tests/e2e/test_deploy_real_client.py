"""End to end through the real `kubernetes` client against the emulator on loopback.

The emulator's controllers make workloads ready after a short delay and give LoadBalancers an
address, so the executor's watch-based waiting, output reading and pruning run for real over HTTP.
Not covered offline: SSA field ownership/conflicts, admission, real kubelet timing.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.commands import DeployRequest
from bot.core.readiness import FailFast
from bot.kube.cluster import KubeCluster
from bot.runs.kinds import WAIT_KINDS
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
    # A private discovery cache: the default one in the temp dir is keyed by URL and may hold an
    # earlier emulator's discovery on the same port, which would hide discovery requests.
    real = KubeCluster(
        "dev-cluster", sim.api_client(), retries=3, backoff=0.01, discovery_cache=str(tmp_path / "disc.json")
    )
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


_DISCOVERY = re.compile(r"/version|/api|/apis|/api/v1|/apis/[^/]+/[^/]+")


def _classify(request: Any) -> str:
    path = request.url.path
    if request.params.get("watch") in ("true", "1"):
        return "watch"
    if request.method == "PATCH":
        return "apply"
    if _DISCOVERY.fullmatch(path):
        return "discovery"
    if request.method == "GET" and path.endswith("/pods"):
        return "pod list"
    return f"{request.method.lower()} {path.split('/')[-2]}"


def test_requests_per_deploy_are_near_the_minimum(rig: Rig, sim: SimCluster) -> None:
    rig.create()
    ticket = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    rig.wait_idle()
    run = rig.store.get_run(ticket.run_id or 0)
    assert run.status == "succeeded", run.error
    seen = collections.Counter(_classify(r) for r in sim.requests)
    objects = [o for t in run.plan["tiers"] for o in t["objects"]]
    applied = {r.url.path for r in sim.requests if r.method == "PATCH"}
    group_versions = {o["apiVersion"] for o in objects}
    minimum = {
        # Each object and namespace once (the generated-password Secret is not in the plan).
        "apply": len(applied),
        # One watch or read per waited object (workloads watch; a ClusterIP Service is one read).
        "wait": sum(o["kind"] in WAIT_KINDS for o in objects),
        # What outputs must read: the generated-password Secret, the Postgres credentials
        # Secret, and the api and ui Services (host/port/address come from one read each).
        "outputs": 4,
        # /version and /apis, then one resource list per group-version in use.
        "discovery": 2 + len(group_versions),
        # The ownership guardrail: each tier namespace is read before it is labelled (a
        # namespace appprofile did not create is never labelled).
        "namespace owners": len(rig.store.get_version("counter-app").profile().tiers),
    }
    floor = sum(minimum.values())
    total = len(sim.requests)
    print(f"\nrequests for one counter-app deploy: {total} (minimum {floor}: {minimum})")
    for what, n in sorted(seen.items()):
        print(f"  {n:3d}  {what}")
    assert seen["apply"] == minimum["apply"]
    assert seen["discovery"] <= minimum["discovery"]
    assert total <= 1.2 * floor, f"{total} requests, minimum {floor}: {dict(seen)}"


EXTRAS = """\
  - name: extras
    type: manifest
    parameters: {NAMESPACE: "{{.spectro.system.appdeployment.tiername}}-ns"}
    manifests:
      - name: config
        content: |
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: extras-config
            namespace: "{{.spectro.system.apptier.NAMESPACE}}"
          data: {mode: v2}
      - name: monitor
        content: |
          apiVersion: monitoring.coreos.com/v1
          kind: PodMonitor
          metadata:
            name: extras-monitor
            namespace: "{{.spectro.system.apptier.NAMESPACE}}"
          spec: {}
  - name: api
"""


@pytest.mark.parametrize("failure", ["422 on its first object", "a kind the cluster does not serve"])
def test_rollback_after_a_half_applied_upgrade_prunes_only_what_was_sent(
    rig: Rig, sim: SimCluster, failure: str
) -> None:
    rig.create()
    first = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    rig.wait_idle()
    assert rig.store.get_run(first.run_id or 0).status == "succeeded"
    # v2 inserts a second tier: a ConfigMap, then (by kind order) a PodMonitor nobody serves here.
    v2 = (EXAMPLES / "counter-app.yaml").read_text().replace("version: 1.0.0", "version: 1.1.0")
    v2 = v2.replace("  - name: api\n", EXTRAS, 1)
    rig.service.new_version(rig.actor, "counter-app", "1.1.0", yaml_text=v2)
    if failure.startswith("422"):
        sim.fail_next("PATCH", r"/configmaps/extras-config", 422)
    upgrade = rig.service.deploy(
        rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
    )
    rig.wait_idle()
    failed = rig.store.get_run(upgrade.run_id or 0)
    assert failed.status == "failed" and failed.version == "1.1.0"
    assert [t.state for t in failed.tiers][:2] == ["ready", "failed"]
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None
    sent = {i["name"] for i in dep.inventory if i["tier"] == "extras"}
    # Tracked just before each apply: what was sent, not the whole tier.
    assert sent == ({"extras-config"} if failure.startswith("422") else {"extras-config", "extras-monitor"})
    back = rig.service.retry(rig.actor, failed.id, rollback=True)
    rig.wait_idle()
    run = rig.store.get_run(back.run_id or 0)
    assert run.status == "succeeded", run.error
    assert run.kind == "rollback" and run.version == "1.0.0"
    pruned = {c["ref"]["name"] for c in run.plan["changes"] if c["action"] == "prune"}
    assert pruned == sent
    assert sim.get("ConfigMap", "counter-app-extras-ns", "extras-config") is None
    assert sim.get("Deployment", "counter-app-api-ns", "counter-app-api") is not None
    dep = rig.store.get_deployment("dev-cluster", "counter-app")
    assert dep is not None and dep.status == "ready" and dep.version == "1.0.0"
    assert not {i["name"] for i in dep.inventory} & sent


class _KubeletlessCluster(KubeCluster):
    """The real adapter; after the Postgres StatefulSet is applied, its pod appears stuck pulling."""

    def __init__(self, sim: SimCluster, tmp_path: Path) -> None:
        super().__init__(
            "dev-cluster", sim.api_client(), retries=3, backoff=0.01, discovery_cache=str(tmp_path / "d.json")
        )
        self.sim = sim

    def apply(self, obj: Any) -> dict[str, Any]:
        stored = super().apply(obj)
        if obj.get("kind") == "StatefulSet":
            meta = stored["metadata"]
            labels = stored["spec"]["selector"]["matchLabels"]
            container = stored["spec"]["template"]["spec"]["containers"][0]
            waiting = {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}
            cs = {"name": container["name"], "image": "postgres:404", "state": {"waiting": waiting}}
            self.sim.put(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{meta['name']}-0",
                        "namespace": meta["namespace"],
                        "labels": labels,
                    },
                    "status": {"phase": "Pending", "containerStatuses": [cs]},
                }
            )
        return stored


def test_an_image_pull_failure_is_reported_while_waiting_and_fails_fast(tmp_path: Path) -> None:
    with SimCluster() as sim:  # no controllers: nothing becomes ready on its own
        rig = Rig(tmp_path)
        real = _KubeletlessCluster(sim, tmp_path)
        rig.executor.connect = lambda name: real
        rig.executor.wait_timeout = 600  # the default: the failure must not wait for it
        rig.executor.fail_fast = FailFast(image_pull_grace=1, pod_check_interval=1)
        rig.create()
        ticket = rig.service.deploy(
            rig.actor, DeployRequest(profile="counter-app", cluster="dev-cluster", sets={})
        )
        rig.wait_idle()
        run = rig.store.get_run(ticket.run_id or 0)
    assert run.status == "failed"
    label = "StatefulSet counter-app-postgres-db-ns/counter-app-postgres-db"
    assert run.error == (
        f"postgres-db: {label}: pod counter-app-postgres-db-0 container {_container(run)} cannot pull image "
        "postgres:404 (ImagePullBackOff): Back-off pulling image"
    )
    lines = {json.loads(s)["tiers"][0]["message"] for s in rig.reporter.snapshots}
    assert "0/1 ready — counter-app-postgres-db-0: ImagePullBackOff: postgres:404" in lines
    started, finished = run.tiers[0].started_at, run.tiers[0].finished_at
    assert started is not None and finished is not None and finished - started < 30


def _container(run: Any) -> str:
    sts = next(o for t in run.plan["tiers"] for o in t["objects"] if o["kind"] == "StatefulSet")
    return str(sts["spec"]["template"]["spec"]["containers"][0]["name"])
