"""The emulator's closed kmock gaps, through the real `kubernetes` client."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from bot.core.ports import ObjectRef
from bot.kube.cluster import KubeCluster
from sandbox.kube import LOAD_BALANCER_IP, SimCluster


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
