"""`KubeCluster` with the real `kubernetes` client against the emulator on loopback.

These prove the wire contract (verbs, URLs, content types, parameters, error mapping). They do
not prove SSA field ownership/conflicts or real controller timing: the emulator does not model
them (see `sandbox.kube`).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes.client import rest as k8s_rest
from kubernetes.client.exceptions import ApiException

from bot.core.ports import ClusterError, ObjectRef
from bot.core.readiness import FailFast
from bot.kube import cluster as cluster_module
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster

NS = "shop-api-ns"


def deployment(replicas: int = 2, image: str = "nginx:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS, "labels": {"appprofile.dev/deployment": "shop"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            },
        },
    }


DEPLOY_REF = ObjectRef(api_version="apps/v1", kind="Deployment", name="api", namespace=NS)


def ready_status(generation: int, n: int = 2) -> dict[str, Any]:
    return {"observedGeneration": generation, "replicas": n, "updatedReplicas": n, "availableReplicas": n}


@pytest.fixture
def ns(kube: KubeCluster) -> str:
    kube.ensure_namespace(NS, {"app.kubernetes.io/managed-by": "appprofile"})
    return NS


def test_apply_is_server_side_apply_and_creates(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    stored = kube.apply(deployment())
    assert stored["metadata"]["generation"] == 1
    assert stored["metadata"]["uid"]
    patches = [r for r in sim.requests if r.method == "PATCH" and r.url.path.endswith("/deployments/api")]
    assert len(patches) == 1
    req = patches[0]
    assert req.headers["Content-Type"] == "application/apply-patch+yaml"
    assert req.params["fieldManager"] == "appprofile"
    assert req.params["force"] == "true"
    assert req.url.path == f"/apis/apps/v1/namespaces/{NS}/deployments/api"
    assert sim.get("Deployment", NS, "api") is not None


def test_second_apply_bumps_generation_only_on_spec_change(
    sim: SimCluster, kube: KubeCluster, ns: str
) -> None:
    first = kube.apply(deployment())
    same = kube.apply(deployment())
    assert same["metadata"]["generation"] == 1
    assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    labelled = deployment()
    labelled["metadata"]["labels"]["extra"] = "yes"
    assert kube.apply(labelled)["metadata"]["generation"] == 1  # metadata is not spec
    changed = kube.apply(deployment(image="nginx:2"))
    assert changed["metadata"]["generation"] == 2
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def test_ensure_namespace_is_applied_cluster_scoped(sim: SimCluster, kube: KubeCluster) -> None:
    kube.ensure_namespace("team-a", {"appprofile.dev/deployment": "shop"})
    got = sim.get("Namespace", None, "team-a")
    assert got is not None
    assert got["metadata"]["labels"] == {"appprofile.dev/deployment": "shop"}
    assert any(r.method == "PATCH" and r.url.path == "/api/v1/namespaces/team-a" for r in sim.requests)


def test_apply_into_missing_namespace_says_so(kube: KubeCluster) -> None:
    with pytest.raises(ClusterError) as err:
        kube.apply(deployment())
    assert err.value.status == 404
    assert f"namespace `{NS}` does not exist" in err.value.message


def test_wait_ready_follows_a_watch(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    lines: list[str] = []
    watching = threading.Event()

    def progress(line: str) -> None:
        lines.append(line)
        watching.set()

    def controller() -> None:
        # The adapter reported progress, so it has read the object; wait until it watches.
        if watching.wait(5):
            for _ in range(500):
                if any(r.params.get("watch") == "true" for r in sim.requests):
                    break
                threading.Event().wait(0.01)
            sim.set_status(
                "Deployment", NS, "api", {"observedGeneration": 1, "replicas": 2, "availableReplicas": 1}
            )
            sim.set_status("Deployment", NS, "api", ready_status(1))

    t = threading.Thread(target=controller)
    t.start()
    before = len(sim.requests)
    result = kube.wait_ready(DEPLOY_REF, timeout=5, on_progress=progress)
    t.join(5)
    assert result.ready, result.message
    assert lines[0] == "0/2 ready"
    calls = sim.requests[before:]
    watches = [r for r in calls if r.params.get("watch") == "true"]
    gets = [r for r in calls if r.method == "GET" and r.params.get("watch") != "true"]
    # The watch's first event is the current state: no separate read of the object. The pods
    # are listed while the workload is not ready (at most once a second on events).
    assert len(watches) == 1
    assert [r.url.path for r in gets] == [f"/api/v1/namespaces/{NS}/pods"]
    assert gets[0].params["labelSelector"] == "app=api"
    assert watches[0].params["fieldSelector"] == "metadata.name=api"
    assert "resourceVersion" not in watches[0].params
    assert int(watches[0].params["timeoutSeconds"]) <= 5


def test_wait_ready_ignores_a_stale_status(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    sim.set_status("Deployment", NS, "api", ready_status(1))
    kube.apply(deployment(image="nginx:2"))  # generation 2; the status still describes 1
    result = kube.wait_ready(DEPLOY_REF, timeout=1)
    assert not result.ready
    assert "not observed" in result.message


def test_wait_ready_timeout_reports_pod_problems(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    sim.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "api-abc", "namespace": NS, "labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "nginx:404"}]},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "api",
                        "image": "nginx:404",
                        "state": {"waiting": {"reason": "ImagePullBackOff"}},
                    }
                ],
            },
        }
    )
    sim.put(  # another workload's pod: must not be reported
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "other", "namespace": NS, "labels": {"app": "other"}},
            "status": {
                "phase": "Pending",
                "containerStatuses": [{"name": "x", "state": {"waiting": {"reason": "ErrImagePull"}}}],
            },
        }
    )
    # A long grace: this is about what a timeout reports, not about failing fast.
    result = kube.wait_ready(DEPLOY_REF, timeout=1, fail_fast=FailFast(image_pull_grace=60))
    assert not result.ready
    assert not result.failed
    # The caller (the executor) adds the label and its own timeout, once.
    assert DEPLOY_REF.label not in result.message and "after" not in result.message
    assert result.message.startswith("waiting for the rollout to start")
    assert "pod api-abc container api" in result.message
    assert "nginx:404" in result.message
    assert "ImagePullBackOff" in result.message
    assert "other" not in result.message


def test_wait_ready_failure_is_immediate(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    cond = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "timed out",
    }
    sim.set_status("Deployment", NS, "api", {"observedGeneration": 1, "conditions": [cond]})
    result = kube.wait_ready(DEPLOY_REF, timeout=30)
    assert result.failed
    assert "progress deadline" in result.message


@pytest.mark.parametrize("drop", [0, 410])
def test_dropped_watch_is_re_established(sim: SimCluster, kube: KubeCluster, ns: str, drop: int) -> None:
    kube.apply(deployment())
    sim.fail_next("GET", r"deployments\?.*watch=true", drop)

    def controller() -> None:
        for _ in range(500):  # until the second watch is open
            if sum(r.params.get("watch") == "true" for r in sim.requests) >= 2:
                break
            threading.Event().wait(0.01)
        sim.set_status("Deployment", NS, "api", ready_status(1))

    t = threading.Thread(target=controller)
    t.start()
    result = kube.wait_ready(DEPLOY_REF, timeout=5)
    t.join(5)
    assert result.ready, result.message
    assert sum(r.params.get("watch") == "true" for r in sim.requests) == 2


def test_retries_5xx_then_succeeds(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    sim.fail_next("PATCH", r"/deployments/api", 503, times=2)
    assert kube.apply(deployment())["metadata"]["name"] == "api"
    assert sum(r.method == "PATCH" and r.url.path.endswith("/deployments/api") for r in sim.requests) == 3


def test_retries_are_bounded(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    sim.fail_next("PATCH", r"/deployments/api", 500, times=100)
    with pytest.raises(ClusterError) as err:
        kube.apply(deployment())
    assert "gave up after 4 attempts" in err.value.message
    assert sum(r.method == "PATCH" and r.url.path.endswith("/deployments/api") for r in sim.requests) == 4


def test_forbidden_names_verb_resource_namespace_and_hint(
    sim: SimCluster, kube: KubeCluster, ns: str
) -> None:
    sim.fail_next("PATCH", r"/deployments/api", 403)
    with pytest.raises(ClusterError) as err:
        kube.apply(deployment())
    assert err.value.status == 403
    assert "patch deployments" in err.value.message
    assert NS in err.value.message
    assert err.value.hint == f"the bot's service account needs `patch` on `deployments` in `{NS}`"


def status_body(code: int, message: str, causes: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": "Invalid",
        "message": message,
        "details": {"causes": causes},
    }


@pytest.mark.parametrize("code", [409, 422])
def test_conflict_and_invalid_carry_the_api_message(
    sim: SimCluster, kube: KubeCluster, ns: str, code: int
) -> None:
    body = status_body(
        code,
        'Deployment.apps "api" is invalid',
        [{"field": "spec.replicas", "message": "must be greater than or equal to 0"}],
    )
    sim.fail_next("PATCH", r"/deployments/api", code, body=body)
    with pytest.raises(ClusterError) as err:
        kube.apply(deployment())
    assert err.value.status == code
    assert 'Deployment.apps "api" is invalid' in err.value.message
    assert "spec.replicas: must be greater than or equal to 0" in err.value.message


def test_secret_values_never_reach_errors(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    body = status_body(422, 'Secret "db" is invalid: data[x]: Invalid value: "hunter2-s3cret": bad', [])
    sim.fail_next("PATCH", r"/secrets/db", 422, body=body)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": NS},
        "stringData": {"x": "hunter2-s3cret"},
    }
    with pytest.raises(ClusterError) as err:
        kube.apply(secret)
    assert "hunter2-s3cret" not in str(err.value)
    assert "hunter2-s3cret" not in err.value.message
    assert "Invalid value: (hidden)" in err.value.message


def test_read_secret_decodes_string_data(kube: KubeCluster, ns: str) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": NS},
            "stringData": {"PASSWORD": "pä55:word\n", "USERNAME": "pguser"},
        }
    )
    assert kube.read_secret(NS, "db") == {"PASSWORD": "pä55:word\n", "USERNAME": "pguser"}
    assert kube.read_secret(NS, "nope") is None


def test_read_service(kube: KubeCluster, ns: str) -> None:
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": NS},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    svc = kube.read_service(NS, "api")
    assert svc is not None
    assert svc["spec"]["ports"][0]["port"] == 80
    assert kube.read_service(NS, "missing") is None


OURS = {"appprofile.dev/deployment": "shop", "app.kubernetes.io/managed-by": "appprofile"}


def configmap(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
    }


def test_list_owned_needs_both_labels(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    ours = deployment()
    ours["metadata"]["labels"] = dict(OURS)
    kube.apply(ours)
    kube.apply(configmap("cfg", OURS))
    kube.apply(configmap("theirs", {**OURS, "appprofile.dev/deployment": "other"}))
    # Someone else's object carrying our deployment label, managed by another tool or by nobody.
    kube.apply(configmap("helm-owned", {**OURS, "app.kubernetes.io/managed-by": "Helm"}))
    kube.apply(configmap("unmanaged", {"appprofile.dev/deployment": "shop"}))
    kube.ensure_namespace("other-ns", {**OURS, "appprofile.dev/deployment": "other"})
    kube.ensure_namespace("shop-ns", OURS)
    kube.ensure_namespace("foreign-ns", {"appprofile.dev/deployment": "shop"})
    before = len(sim.requests)
    owned = {ref.label for ref in kube.list_owned("shop")}
    assert owned == {f"Deployment {NS}/api", f"ConfigMap {NS}/cfg", "Namespace shop-ns"}
    # Discovery of kinds not used before is lazy and may happen here too: only the lists count.
    lists = [r for r in sim.requests[before:] if r.method == "GET" and "labelSelector" in r.params]
    assert len(lists) == len(cluster_module.OWNED_KINDS)
    assert {r.params["labelSelector"] for r in lists} == {
        "appprofile.dev/deployment=shop,app.kubernetes.io/managed-by=appprofile"
    }


def test_delete_and_delete_missing(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    kube.delete(DEPLOY_REF)
    assert sim.get("Deployment", NS, "api") is None
    deletes = [r for r in sim.requests if r.method == "DELETE"]
    assert deletes
    assert deletes[0].params.get("propagationPolicy") == "Background"
    kube.delete(DEPLOY_REF)  # already gone: fine


def test_delete_of_a_kind_the_cluster_does_not_serve_is_already_gone(
    sim: SimCluster, kube: KubeCluster
) -> None:
    ref = ObjectRef(api_version="monitoring.coreos.com/v1", kind="PodMonitor", name="api", namespace=NS)
    kube.delete(ref)
    assert not [r for r in sim.requests if r.method == "DELETE"]


def test_scope_from_discovery_is_cached(sim: SimCluster, kube: KubeCluster) -> None:
    assert kube.scope("apps/v1", "Deployment") is True
    assert kube.scope("v1", "Namespace") is False
    assert kube.scope("storage.k8s.io/v1", "StorageClass") is False
    before = len(sim.requests)
    assert kube.scope("example.com/v1", "Widget") is None
    misses = len(sim.requests) - before
    assert misses >= 1  # looked for, with the one rediscovery a miss gets
    before = len(sim.requests)
    for _ in range(3):
        assert kube.scope("apps/v1", "Deployment") is True
        assert kube.scope("example.com/v1", "Widget") is None
    assert len(sim.requests) == before  # hits and misses both come from the cache


def test_a_miss_is_looked_up_again_after_an_apply(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    # An apply may have been the CRD that serves the kind: a remembered miss must not outlive it.
    assert kube.scope("example.com/v1", "Widget") is None
    kube.apply(configmap("cfg", OURS))
    before = len(sim.requests)
    assert kube.scope("example.com/v1", "Widget") is None
    assert len(sim.requests) > before
    assert kube.scope("apps/v1", "Deployment") is True


def test_discovery_asks_only_for_the_groups_in_use(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    kube.apply(configmap("cfg", OURS))
    paths = [r.url.path for r in sim.requests if r.method == "GET"]
    # Core "v1" must not fan out to every group's v1 (batch, policy, rbac, ...).
    assert sorted(paths) == ["/api/v1", "/apis", "/apis/apps/v1", "/version"]


def test_a_stalled_watch_ends_in_a_fresh_read(sim: SimCluster, ns: str) -> None:
    # Every watch fails, so no event ever says Ready; the object is Ready all along.
    kube = KubeCluster("test", sim.api_client(), retries=3, backoff=0.5, max_backoff=0.5)
    kube.apply(deployment())
    sim.set_status("Deployment", NS, "api", ready_status(1))
    sim.fail_next("GET", r"deployments\?.*watch=true", 500, times=100)
    result = kube.wait_ready(DEPLOY_REF, timeout=1)
    assert result.ready, result.message
    reads = [r for r in sim.requests if r.method == "GET" and r.url.path.endswith("/deployments/api")]
    assert len(reads) == 1


def _throttled(retry_after: str | None) -> ApiException:
    err = ApiException(status=429, reason="Too Many Requests")
    err.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return err


@pytest.mark.parametrize(
    ("header", "slept"),
    [("3", 3.0), ("100", 8.0), (None, 0.5), ("Wed, 21 Oct 2026 07:28:00 GMT", 0.5)],
)
def test_retry_after_is_honoured_within_max_backoff(header: str | None, slept: float) -> None:
    pauses: list[float] = []
    kube = KubeCluster(
        "test", k8s_client.ApiClient(), backoff=0.5, max_backoff=8.0, max_retry_time=60, sleep=pauses.append
    )
    answers: list[ApiException | str] = [_throttled(header), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, ApiException):
            raise answer
        return answer

    # Through the one retry funnel every verb uses; the emulator cannot send headers yet.
    assert kube._call("get", "pods", NS, call) == "ok"
    assert pauses == [slept]


@pytest.mark.parametrize(("status", "header", "slept"), [(429, "2", 2.0), (503, "30", 5.0)])
def test_retry_after_from_the_api_server(
    sim: SimCluster, ns: str, status: int, header: str, slept: float
) -> None:
    pauses: list[float] = []
    api = sim.api_client()
    # As `bot.kube.connect` builds it: urllib3 would otherwise honour Retry-After itself, unbounded.
    api.configuration.retries = 0
    api.rest_client = k8s_rest.RESTClientObject(api.configuration)
    kube = KubeCluster("test", api, backoff=0.01, max_backoff=5.0, sleep=pauses.append)
    sim.fail_next("GET", r"/services/api", status, headers={"Retry-After": header})
    assert kube.read_service(NS, "api") is None
    assert pauses == [slept]  # the server's wish, bounded by max_backoff


def test_namespace_owner(kube: KubeCluster, ns: str) -> None:
    kube.ensure_namespace("shop-db-ns", OURS)
    kube.ensure_namespace("theirs-ns", {"appprofile.dev/deployment": "shop"})
    assert kube.namespace_owner("nope-ns").exists is False
    mine = kube.namespace_owner("shop-db-ns")
    assert (mine.exists, mine.managed, mine.deployment) == (True, True, "shop")
    theirs = kube.namespace_owner("theirs-ns")
    assert (theirs.exists, theirs.managed, theirs.deployment) == (True, False, None)
