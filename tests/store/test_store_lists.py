"""The one-query reads behind lists (`deployments`, the App Home): each deployment's newest run
and each profile's newest version, equal to the per-item reads they replace, on both backends."""

from __future__ import annotations

from bot.core import model
from tests.store.conftest import Backend


def test_latest_runs_match_latest_run_per_deployment_without_the_plan(backend: Backend) -> None:
    store = backend.open()
    fields = {
        "profile": "counter-app",
        "kind": "deploy",
        "requested_by": "U1",
        "channel": "C1",
        "fingerprint": "f",
    }
    for cluster, deployment, version in [
        ("prod", "shop", "1.0.0"),
        ("prod", "shop", "1.1.0"),
        ("dev", "shop", "2.0.0"),
        ("prod", "blog", "1.0.0"),
    ]:
        store.create_run(
            cluster=cluster, deployment=deployment, version=version, plan={"tiers": [1]}, **fields
        )
    everywhere = store.latest_runs()
    assert set(everywhere) == {("prod", "shop"), ("dev", "shop"), ("prod", "blog")}
    for (cluster, deployment), run in everywhere.items():
        full = store.latest_run(cluster, deployment)
        assert full is not None and full.plan == {"tiers": [1]}
        assert run.model_copy(update={"plan": full.plan}) == full
        assert run.plan == {}
    assert {k: r.version for k, r in store.latest_runs("prod").items()} == {
        ("prod", "shop"): "1.1.0",
        ("prod", "blog"): "1.0.0",
    }


def test_latest_versions_are_the_semver_newest_of_each_profile(backend: Backend) -> None:
    store = backend.open()
    for name, version in [("shop", "1.9.0"), ("shop", "1.10.0"), ("shop", "1.2.0"), ("blog", "0.1.0")]:
        profile = model.from_data(
            {
                "name": name,
                "version": version,
                "tiers": [{"name": "api", "type": "container", "properties": {}}],
            }
        )
        store.create_version(profile, actor="U1", channel="C1", kind="create")
    assert store.latest_versions() == {"shop": "1.10.0", "blog": "0.1.0"}
    assert all(store.latest_version(n) == v for n, v in store.latest_versions().items())
