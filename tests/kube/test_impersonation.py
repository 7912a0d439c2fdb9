"""A cluster configured to impersonate sends that identity on every request (discovery included)."""

from __future__ import annotations

from pathlib import Path

from bot.kube import connect
from sandbox.kube import SimCluster
from tests.kube.test_connect import write_kubeconfig


def test_every_request_carries_the_impersonated_user_and_each_group(sim: SimCluster, tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", sim.url)
    cluster = connect.from_kubeconfig(
        "dev-cluster", "kind-dev", str(cfg), identity=("appprofile-deployer", ["deployers", "auditors"])
    )
    cluster.ensure_namespace("team-a", {})
    seen = sim.impersonations
    assert seen, "no request was impersonated"
    assert {(i.user, i.groups) for i in seen} == {("appprofile-deployer", ("deployers", "auditors"))}
    assert len(seen) == len(sim.requests)


def test_without_an_identity_nothing_is_impersonated(sim: SimCluster, tmp_path: Path) -> None:
    cfg = write_kubeconfig(tmp_path / "config", sim.url)
    connect.from_kubeconfig("dev-cluster", "kind-dev", str(cfg)).ensure_namespace("team-a", {})
    assert sim.impersonations == []
