"""One `Cluster.read` contract, two implementations: the scripted double and the real adapter
against the emulator (GET through the official client's dynamic API). Drift checks read every
applied object with it, so both must agree on what comes back and on what is "not there"."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.ports import Cluster, ObjectRef
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from tests.executor.scripted import ScriptedCluster

NS = "shop-ns"
CONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "namespace": NS, "labels": {"app.kubernetes.io/name": "shop"}},
    "data": {"mode": "fast"},
}
SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "creds", "namespace": NS},
    "stringData": {"password": "hunter2hunter2"},
}
ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "shop-reader"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
}


@pytest.fixture(params=["scripted", "kube"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if request.param == "scripted":
        double = ScriptedCluster("test", controllers=False)
        double.default_scope = None  # only the built-in kinds are served, as in the emulator
        yield double
        return
    with SimCluster() as sim:
        kube = KubeCluster(
            "test", sim.api_client(), retries=2, backoff=0.01, discovery_cache=str(tmp_path / "d.json")
        )
        kube.ensure_namespace(NS, {})
        yield kube


def test_an_applied_object_reads_back_with_what_was_applied(cluster: Cluster) -> None:
    for obj in (CONFIG, SECRET, ROLE):
        cluster.apply(obj)
    config = cluster.read(ObjectRef.of(CONFIG))
    assert config is not None
    assert config["data"] == {"mode": "fast"}
    assert config["metadata"]["labels"] == {"app.kubernetes.io/name": "shop"}
    secret = cluster.read(ObjectRef.of(SECRET))
    assert secret is not None and "stringData" not in secret  # the server keeps `data` only
    assert base64.b64decode(secret["data"]["password"]).decode() == "hunter2hunter2"
    role = cluster.read(ObjectRef.of(ROLE))
    assert role is not None and role["rules"][0]["verbs"] == ["get"]


def test_what_is_not_there_reads_as_none(cluster: Cluster) -> None:
    assert cluster.read(ObjectRef.of(CONFIG)) is None
    cluster.apply(CONFIG)
    cluster.delete(ObjectRef.of(CONFIG))
    assert cluster.read(ObjectRef.of(CONFIG)) is None
    # A kind the cluster does not serve (a CRD that was removed): nothing to read, no error.
    unserved = ObjectRef(api_version="example.com/v1", kind="Widget", name="w", namespace=NS)
    assert cluster.read(unserved) is None
