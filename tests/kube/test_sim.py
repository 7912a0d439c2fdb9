"""The emulator's closed kmock gaps, through the real `kubernetes` client."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from bot.core.ports import ObjectRef
from bot.kube.cluster import KubeCluster
from sandbox.kube import LOAD_BALANCER_IP, Attributes, SimCluster
from sandbox.kube_kinds import builtin_kinds, cross_check

T = TypeVar("T")


@pytest.fixture
def core(sim: SimCluster) -> client.CoreV1Api:
    return client.CoreV1Api(sim.api_client())


def test_namespaces_list_create_get(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "team-a", "labels": {"t": "a"}}})
    names = {n.metadata.name for n in core.list_namespace().items}
    assert names == {"default", "kube-system", "team-a"}
    got = core.read_namespace("team-a")
    assert got.metadata.uid
    assert got.metadata.labels == {"t": "a"}
    assert got.status.phase == "Active"
    assert [n.metadata.name for n in core.list_namespace(label_selector="t=a").items] == ["team-a"]
    with pytest.raises(ApiException) as err:
        core.create_namespace({"metadata": {"name": "team-a"}})
    assert err.value.status == 409


def test_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "c"}})
    assert err.value.status == 404
    assert 'namespaces \\"nowhere\\" not found' in err.value.body


def test_metadata_string_data_and_status_on_create(sim: SimCluster, core: client.CoreV1Api) -> None:
    created = core.create_namespaced_secret(
        "default",
        {"metadata": {"name": "s"}, "stringData": {"k": "v"}, "data": {"a": base64.b64encode(b"b").decode()}},
    )
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp
    raw = sim.get("Secret", "default", "s")
    assert raw is not None
    assert "stringData" not in raw
    assert raw["data"] == {"k": base64.b64encode(b"v").decode(), "a": base64.b64encode(b"b").decode()}
    svc = core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "x"},
            "spec": {"ports": [{"port": 1}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
        },
    )
    assert not (svc.status and svc.status.load_balancer and svc.status.load_balancer.ingress)


def test_status_only_through_the_subresource(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "p"}, "spec": {}})
    core.patch_namespaced_persistent_volume_claim("p", "default", {"status": {"phase": "Bound"}})
    assert (sim.get("PersistentVolumeClaim", "default", "p") or {}).get("status") is None
    core.patch_namespaced_persistent_volume_claim_status("p", "default", {"status": {"phase": "Bound"}})
    assert (sim.get("PersistentVolumeClaim", "default", "p") or {})["status"] == {"phase": "Bound"}


def test_apply_needs_a_field_manager_and_dry_run_is_not_stored(sim: SimCluster) -> None:
    api = sim.api_client()
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    path = "/api/v1/namespaces/default/configmaps/c"
    headers = {"Content-Type": "application/apply-patch+yaml"}
    refused = api.call_api(*api.param_serialize("PATCH", path, body=body, header_params=headers))
    assert refused.status == 422
    assert b"fieldManager: Required value" in refused.read()
    resp = api.call_api(
        *api.param_serialize(
            "PATCH",
            path,
            query_params=[("fieldManager", "t"), ("dryRun", "All")],
            body=body,
            header_params={"Content-Type": "application/apply-patch+yaml"},
        )
    )
    assert resp.status == 200
    assert sim.get("ConfigMap", "default", "c") is None


def test_field_selector_and_watch_timeout(sim: SimCluster, core: client.CoreV1Api) -> None:
    for name in ("a", "b"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map("default", field_selector="metadata.name=b").items
    ] == ["b"]
    started = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map, "default", field_selector="metadata.name=a", timeout_seconds=1
        )
    )
    # The server ended the stream by itself (the generous bound only catches a hang).
    assert time.monotonic() - started < 10
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "a")]


def test_watch_resumes_from_resource_version(sim: SimCluster, core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=cm.metadata.resource_version,
            timeout_seconds=1,
        )
    )
    assert [(e["type"], e["object"].data) for e in events] == [("MODIFIED", {"x": "1"})]


@pytest.fixture
def live() -> Iterator[SimCluster]:
    cluster = SimCluster(controllers=True, ready_after=0.05).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_controller_makes_workloads_ready(live: SimCluster) -> None:
    kube = KubeCluster("live", live.api_client(), backoff=0.01)
    kube.ensure_namespace("app", {})
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "app"},
            "spec": {"replicas": 2},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "s", "namespace": "app"},
            "spec": {"replicas": 1},
        },
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "app"}, "spec": {}},
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "p", "namespace": "app"},
            "spec": {},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb", "namespace": "app"},
            "spec": {"type": "LoadBalancer"},
        },
    ]
    for obj in objs:
        kube.apply(obj)
    for obj in objs:
        result = kube.wait_ready(ObjectRef.of(obj), timeout=5)
        assert result.ready, result.message
    svc = kube.read_service("app", "lb")
    assert svc is not None
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == LOAD_BALANCER_IP


def test_a_deployment_scaled_down_by_hand_becomes_ready_again(live: SimCluster) -> None:
    """A scale-down (5 → 2 replicas) once spun the controller forever, freezing the emulator."""
    kube = KubeCluster("live", live.api_client(), backoff=0.01)
    kube.ensure_namespace("app", {})
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "app"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    for replicas in (5, 2):
        kube.apply({**dep, "spec": {**dep["spec"], "replicas": replicas}})
        result = kube.wait_ready(ObjectRef.of(dep), timeout=5)
        assert result.ready, result.message
        pods = client.CoreV1Api(live.api_client()).list_namespaced_pod("app").items
        assert len(pods) == replicas


# ---- discovery: every built-in kind with its true scope -------------------------------------


def _eventually(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """The first truthy result of `probe`; bounded."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"{what}: not seen within {timeout}s (last: {last!r})")


@pytest.fixture
def dyn(sim: SimCluster, tmp_path: Path) -> DynamicClient:
    # A cache file of its own: the default one is keyed by URL and outlives the emulator.
    return DynamicClient(sim.api_client(), cache_file=str(tmp_path / "discovery.json"))


CLUSTER_SCOPED = [
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
]
NAMESPACED = [
    ("v1", "Pod"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "Secret"),
    ("coordination.k8s.io/v1", "Lease"),
    ("apps/v1", "Deployment"),
]


def test_discovery_has_the_true_scope_of_built_in_kinds(dyn: DynamicClient) -> None:
    for api_version, kind in CLUSTER_SCOPED:
        assert dyn.resources.get(api_version=api_version, kind=kind).namespaced is False, kind
    for api_version, kind in NAMESPACED:
        assert dyn.resources.get(api_version=api_version, kind=kind).namespaced is True, kind
    # Several versions of one group: the preferred one is the newest GA.
    hpa = dyn.resources.get(api_version="autoscaling/v2", kind="HorizontalPodAutoscaler")
    assert hpa.preferred


def test_kinds_come_from_the_client_and_agree_with_kubernetes_validate() -> None:
    kinds = {(k.api_version, k.kind): k.namespaced for k in builtin_kinds()}
    assert len(kinds) > 90
    assert kinds[("certificates.k8s.io/v1", "CertificateSigningRequest")] is False
    assert kinds[("v1", "Pod")] is True
    assert cross_check() == set()


def test_a_cluster_scoped_object_drops_a_dummy_namespace(sim: SimCluster, dyn: DynamicClient) -> None:
    res = dyn.resources.get(api_version="scheduling.k8s.io/v1", kind="PriorityClass")
    body = {"metadata": {"name": "high", "namespace": "dummy"}, "value": 1000}
    created = res.create(body=body).to_dict()
    assert "namespace" not in created["metadata"]
    stored = sim.get("PriorityClass", None, "high")
    assert stored is not None and "namespace" not in stored["metadata"]
    assert [o["metadata"]["name"] for o in res.get().to_dict()["items"]] == ["high"]


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Cluster",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {"name": "v1", "served": True, "storage": True},
            {"name": "v1alpha1", "served": False, "storage": False},
        ],
    },
}


def test_a_crd_makes_its_kind_served_until_it_is_deleted(sim: SimCluster, dyn: DynamicClient) -> None:
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.server_side_apply(body=CRD, field_manager="t")
    dyn.resources.invalidate_cache()
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    assert (widgets.namespaced, widgets.name) == (False, "widgets")
    widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert sim.get("Widget", None, "w") is not None
    assert not [k for k in sim.kinds() if (k.group, k.version) == ("example.com", "v1alpha1")]
    established = (sim.get("CustomResourceDefinition", None, "widgets.example.com") or {})["status"]
    assert {c["type"] for c in established["conditions"]} >= {"Established"}

    crds.delete(name="widgets.example.com")
    api = sim.api_client()
    gone = api.call_api(*api.param_serialize("GET", "/apis/example.com/v1"))
    gone.read()  # releases the connection
    assert gone.status == 404
    assert sim.get("CustomResourceDefinition", None, "widgets.example.com") is None
    assert not [k for k in sim.kinds() if k.group == "example.com"]


# ---- faults with headers, impersonation and authorization ------------------------------------


def test_a_fault_carries_its_headers(sim: SimCluster) -> None:
    sim.fail_next("GET", r"/configmaps", 429, headers={"Retry-After": "2"})
    config = client.Configuration()
    config.host = sim.url
    config.retries = False  # urllib3 would otherwise honour Retry-After by itself
    core = client.CoreV1Api(client.ApiClient(config))
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default")
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "2"
    status = json.loads(err.value.body)
    assert (status["reason"], status["details"]) == ("TooManyRequests", {"retryAfterSeconds": 2})
    assert core.list_namespaced_config_map("default").items == []


def _as(sim: SimCluster, user: str, *groups: str) -> client.ApiClient:
    api = sim.api_client()
    api.set_default_header("Impersonate-User", user)
    for group in groups:  # the client keeps one value per header
        api.set_default_header("Impersonate-Group", group)
    return api


ROLEBINDING = {
    "metadata": {"name": "rb"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    "subjects": [],
}


def test_impersonated_requests_are_recorded_and_everything_is_allowed_without_an_authorizer(
    sim: SimCluster,
) -> None:
    rbac = client.RbacAuthorizationV1Api(_as(sim, "appprofile-deployer", "deployers"))
    rbac.create_namespaced_role_binding("kube-system", ROLEBINDING)
    seen = sim.impersonations
    assert [(i.user, i.groups, i.method) for i in seen] == [("appprofile-deployer", ("deployers",), "POST")]
    assert seen[0].path == "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings"


def test_a_missing_grant_is_answered_with_the_api_server_s_403(sim: SimCluster) -> None:
    sim.grant(
        "appprofile-deployer", ["get", "list", "create", "patch"], ["configmaps", "pods/log"], "default"
    )
    rbac = client.RbacAuthorizationV1Api(_as(sim, "appprofile-deployer"))
    with pytest.raises(ApiException) as err:
        rbac.create_namespaced_role_binding("kube-system", ROLEBINDING)
    assert err.value.status == 403
    status = json.loads(err.value.body)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'rolebindings.rbac.authorization.k8s.io is forbidden: User "appprofile-deployer" cannot create '
        'resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "kube-system"'
    )
    core = client.CoreV1Api(_as(sim, "appprofile-deployer"))
    core.create_namespaced_config_map("default", {"metadata": {"name": "ok"}})
    with pytest.raises(ApiException) as err:
        core.read_namespace("default")
    assert json.loads(err.value.body)["message"] == (
        'namespaces "default" is forbidden: User "appprofile-deployer" cannot get resource "namespaces" '
        'in API group "" at the cluster scope'
    )
    # The caller's own (admin) credentials are not impersonated, so not authorized.
    client.RbacAuthorizationV1Api(sim.api_client()).create_namespaced_role_binding("kube-system", ROLEBINDING)


def test_a_custom_authorizer_decides_for_impersonated_identities() -> None:
    def only_admins(a: Attributes) -> bool:
        return "system:masters" in a.groups

    with SimCluster(authorizer=only_admins) as cluster:
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(_as(cluster, "eve")).list_namespaced_pod("default")
        assert err.value.status == 403
        assert (
            client.CoreV1Api(_as(cluster, "root", "system:masters")).list_namespaced_pod("default").items
            == []
        )


# ---- the pod controller and pods/log ---------------------------------------------------------


def _deployment(name: str, image: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def _pods(cluster: SimCluster, app: str) -> list[client.V1Pod]:
    core = client.CoreV1Api(cluster.api_client())
    return list(core.list_namespaced_pod("app", label_selector=f"app={app}").items)


def _waiting(pod: client.V1Pod) -> str | None:
    statuses = pod.status.container_statuses or []
    return statuses[0].state.waiting.reason if statuses and statuses[0].state.waiting else None


def test_deployment_pods_are_owned_labelled_running_and_log(live: SimCluster) -> None:
    KubeCluster("live", live.api_client(), backoff=0.01).ensure_namespace("app", {})
    apps = client.AppsV1Api(live.api_client())
    apps.create_namespaced_deployment("app", _deployment("web", "nginx:1.27", replicas=2))
    ready = _eventually(
        lambda: (
            [p for p in _pods(live, "web") if p.status.phase == "Running"]
            if len([p for p in _pods(live, "web") if p.status.phase == "Running"]) == 2
            else None
        ),
        "two running pods",
    )
    rs = apps.list_namespaced_replica_set("app").items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    for pod in ready:
        owner = pod.metadata.owner_references[0]
        assert (owner.kind, owner.name, owner.controller) == ("ReplicaSet", rs[0].metadata.name, True)
        assert pod.metadata.labels["app"] == "web"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    dep = _eventually(
        lambda: (d := apps.read_namespaced_deployment("web", "app")).status.available_replicas == 2 and d,
        "the deployment available",
    )
    assert dep.status.ready_replicas == 2
    core = client.CoreV1Api(live.api_client())
    name = ready[0].metadata.name
    log = core.read_namespaced_pod_log(name, "app", container="main")
    assert log == f"main: starting nginx:1.27 in pod {name}\nmain: listening on :80\nmain: ready\n"
    assert core.read_namespaced_pod_log(name, "app", tail_lines=1) == "main: ready\n"
    live.set_log("app", name, "main", "one\ntwo\nthree\n")
    assert core.read_namespaced_pod_log(name, "app", tail_lines=2) == "two\nthree\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log(name, "app", previous=True)
    assert err.value.status == 400
    # Deleting the deployment takes its ReplicaSet and pods with it.
    apps.delete_namespaced_deployment("web", "app")
    assert _pods(live, "web") == [] and apps.list_namespaced_replica_set("app").items == []


def test_an_unpullable_image_backs_off_and_the_deployment_never_becomes_ready(live: SimCluster) -> None:
    kube = KubeCluster("live", live.api_client(), backoff=0.01)
    kube.ensure_namespace("app", {})
    obj = _deployment("broken", "registry.example/app:nopull")
    kube.apply(obj)
    _eventually(lambda: [p for p in _pods(live, "broken") if _waiting(p) == "ErrImagePull"], "ErrImagePull")
    pod = _eventually(
        lambda: next((p for p in _pods(live, "broken") if _waiting(p) == "ImagePullBackOff"), None),
        "ImagePullBackOff",
    )
    waiting = pod.status.container_statuses[0].state.waiting
    assert waiting.message == 'Back-off pulling image "registry.example/app:nopull"'
    assert pod.status.phase == "Pending"
    result = kube.wait_ready(ObjectRef.of(obj), timeout=1)
    assert not result.ready
    assert "cannot pull image registry.example/app:nopull (ImagePullBackOff" in result.message
    status = client.AppsV1Api(live.api_client()).read_namespaced_deployment("broken", "app").status
    assert not status.ready_replicas
    assert {c.type: c.status for c in status.conditions}["Available"] == "False"


def test_a_crashing_image_loops_with_a_growing_restart_count(live: SimCluster) -> None:
    kube = KubeCluster("live", live.api_client(), backoff=0.01)
    kube.ensure_namespace("app", {})
    obj = _deployment("crashy", "example/app:crash")
    kube.apply(obj)
    first = _eventually(
        lambda: next((p for p in _pods(live, "crashy") if _waiting(p) == "CrashLoopBackOff"), None), "a crash"
    )
    count = first.status.container_statuses[0].restart_count

    def restarted() -> client.V1ContainerStatus | None:
        pods = _pods(live, "crashy")
        cs = pods[0].status.container_statuses[0] if pods else None
        return cs if cs is not None and cs.restart_count > count else None

    cs = _eventually(restarted, "another restart")
    assert cs.last_state.terminated.exit_code == 1
    assert not cs.ready
    name = first.metadata.name
    core = client.CoreV1Api(live.api_client())
    previous = core.read_namespaced_pod_log(name, "app", container="main", previous=True)
    assert previous.splitlines()[-1] == "main: error: simulated crash (image tag :crash); exiting with code 1"
    result = kube.wait_ready(ObjectRef.of(obj), timeout=1)
    assert not result.ready and "keeps crashing (CrashLoopBackOff" in result.message
    assert "last exit code 1" in result.message


def test_statefulset_daemonset_and_job_get_pods(live: SimCluster) -> None:
    kube = KubeCluster("live", live.api_client(), backoff=0.01)
    kube.ensure_namespace("app", {})
    template = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "app"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "app"},
            "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": "app"},
            "spec": {"template": template},
        },
    ]
    for obj in objs:
        kube.apply(obj)
    for obj in objs:
        result = kube.wait_ready(ObjectRef.of(obj), timeout=5)
        assert result.ready, result.message
    names = {p.metadata.name for p in _pods(live, "x")}
    assert {"db-0", "db-1"} <= names
    owners = {p.metadata.owner_references[0].kind for p in _pods(live, "x")}
    assert owners == {"StatefulSet", "DaemonSet", "Job"}
    job_pod = next(p for p in _pods(live, "x") if p.metadata.owner_references[0].kind == "Job")
    assert job_pod.status.phase == "Succeeded"
    assert job_pod.metadata.labels["job-name"] == "once"
