"""`db copy`: an existing SQLite install moves into an empty PostgreSQL database without loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core import model
from bot.core.errors import Conflict
from bot.core.records import TierState
from bot.store import copy, schema
from bot.store.db import Store
from tests import secret_key
from tests.store.conftest import Backend
from tests.store.test_store_runs import Clock, new_run

PASSWORD = "Typed-By-A-Person-9"


def make_profile(name: str, version: str, *, password: bool = False) -> model.Profile:
    props: dict[str, Any] = {"databaseName": "app", **({"password": PASSWORD} if password else {})}
    return model.from_data(
        {
            "name": name,
            "version": version,
            "description": f"{name} {version}",
            "tags": ["owner:platform", "ünïcode ✓"],
            "tiers": [
                {"name": "db", "type": "postgresql", "properties": props},
                {"name": "api", "type": "container", "properties": {"image": "ghcr.io/example/api:1.0.0"}},
            ],
        }
    )


def populate(store: Store, clock: Clock) -> None:
    """An install that has been used: every table holds rows, some of them deleted in between."""
    store.home_opened("U1")
    store.home_changed("U1", "digest-of-a-published-home")
    for name, version in [("counter-app", "1.0.0"), ("counter-app", "1.10.0"), ("blog", "2.0.0")]:
        store.create_version(make_profile(name, version, password=name == "blog"), actor="U1", channel="C1",
                             kind="create" if version in ("1.0.0", "2.0.0") else "version")  # fmt: skip
        clock.now += 1
    store.create_version(make_profile("gone", "1.0.0"), actor="U2", channel="C2", kind="import")
    store.delete_profile("gone", actor="U2", channel="C2")  # a gap in the version ids
    store.set_current("C1", "counter-app")
    store.set_current("C2", "blog")
    shop = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    store.update_deployment(
        shop.id, status="ready", last_good_version="1.0.0", outputs={"api": {"URL": "http://192.0.2.10"}},
        inventory=[{"kind": "Deployment", "name": "shop-api", "namespace": "shop-api-ns"}],
    )  # fmt: skip
    fields = [[["spec", "replicas"], "0123456789abcdef"], [["metadata", "labels", "app"], "fedcba9876543210"]]
    store.record_applied_fields(shop.id, {"apps/v1|Deployment|shop-api-ns|shop-api": fields})
    store.upsert_deployment("dev", "blog", profile="blog", version="2.0.0", channel="C2", actor="U2")
    done = new_run(store, profile="counter-app", plan={"objects": [{"kind": "Secret", "data": PASSWORD}]},
                   tiers=[TierState(name="db"), TierState(name="api")], deployment_id=shop.id)  # fmt: skip
    store.claim_next_run("prod", "shop", owner="replica-a")
    store.update_run(done.id, status="succeeded", next_tier=2, message_ts="171.01")
    running = new_run(store, options={"set": {"api.replicas": "3"}})
    store.claim_next_run("prod", "shop", owner="replica-a", lease_seconds=60)
    new_run(store)  # queued behind it
    waiting = new_run(store, cluster="prod", deployment="blog", status="awaiting_approval",
                      expires_at=store.timestamp(3600))  # fmt: skip
    store.add_approval(waiting.id, "U2", "approve", "sha256:abc")
    store.add_approval(waiting.id, "U3", "reject", "sha256:abc")
    store.update_run(running.id, error="tier api: ImagePullBackOff")
    store.audit("U1", "C1", "deploy", "counter-app@1.0.0 → prod/shop", "ok", "détail")


def everything(store: Store) -> dict[str, Any]:
    """What every read method of the store returns for this install."""
    names = [p.name for p in store.list_profiles()]
    runs = store.runs_with_status(
        "queued", "awaiting_approval", "running", "succeeded", "failed", "cancelled", "superseded",
        "rejected", "expired",
    )  # fmt: skip
    targets = sorted({(r.cluster, r.deployment) for r in runs} | {("dev", "blog"), ("prod", "shop")})
    return {
        "profiles": store.list_profiles(),
        "versions": {n: store.list_versions(n) for n in names},
        "latest": {n: (store.latest_version(n), store.get_version(n)) for n in names},
        "one version": store.get_version("counter-app", "1.0.0"),
        "current": {c: store.get_current(c) for c in ("C1", "C2", "C3")},
        "deployments": store.list_deployments(),
        "deployment": store.get_deployment("prod", "shop"),
        "found": store.find_deployments("shop"),
        "runs": runs,
        "each run": [store.get_run(r.id) for r in runs],
        "approvals": {r.id: store.approvals(r.id) for r in runs},
        "queue": {r.id: store.queue_position(r.id) for r in runs},
        "per target": {
            t: (store.running_run(*t), store.latest_run(*t), store.pending_approval_run(*t)) for t in targets
        },
        "counts": sorted(store.run_counts()),
        "home viewers": store.home_viewers(),
        "applied fields": [store.applied_fields(d.id) for d in store.list_deployments()],
        "home unchanged": store.home_changed("U1", "digest-of-a-published-home"),
        "finished": store.recent_finished_runs(),
        "expired": store.expired_running_runs(),
        "audit": store.list_audit(limit=1000),
        "audit filters": (store.list_audit(profile="counter-app"), store.list_audit(cluster="prod")),
    }


def test_a_copy_reads_back_exactly_as_the_original(tmp_path: Path, postgresql: Backend) -> None:
    clock = Clock()
    source = Store(tmp_path / "app.db", now=clock, sealer=secret_key.sealer())
    populate(source, clock)
    target = postgresql.open(now=clock, sealer=secret_key.sealer())
    counts = copy.copy_store(source, target)
    assert counts == {
        "versions": 3, "channel_profiles": 2, "deployments": 2, "runs": 4, "approvals": 2,
        "audit": len(source.list_audit(limit=1000)), "applied_fields": 1, "home_views": 1,
    }  # fmt: skip
    assert list(counts) == [t for t, _ in schema.TABLES]
    assert everything(target) == everything(source)
    # Sealed columns arrive sealed: the copy needs no key and never opens them.
    assert PASSWORD.encode() not in postgresql.stored_bytes()
    # New rows get ids past the copied ones (the sequences were moved past them).
    run = new_run(target)
    assert run.id == max(r.id for r in everything(source)["runs"]) + 1
    target.create_version(make_profile("fresh", "1.0.0"), actor="U9", channel="C9", kind="create")
    assert target.list_audit(limit=1)[0].id == source.list_audit(limit=1)[0].id + 1
    assert target.get_version("fresh").created_by == "U9"


def test_a_target_with_rows_is_refused_and_left_alone(tmp_path: Path, postgresql: Backend) -> None:
    source = Store(tmp_path / "app.db")
    source.create_version(make_profile("counter-app", "1.0.0"), actor="U1", channel="C1", kind="create")
    target = postgresql.open()
    target.set_current("C1", "something")
    with pytest.raises(Conflict) as err:
        copy.copy_store(source, target)
    assert err.value.message.endswith("already holds rows (1 in channel_profiles); nothing was copied")
    assert err.value.hint is not None
    assert "empty database" in err.value.hint
    assert target.list_profiles() == []
    assert target.get_current("C1") == "something"


def test_copying_twice_is_refused_the_second_time(tmp_path: Path, postgresql: Backend) -> None:
    source = Store(tmp_path / "app.db")
    source.create_version(make_profile("counter-app", "1.0.0"), actor="U1", channel="C1", kind="create")
    target = postgresql.open()
    assert copy.copy_store(source, target)["versions"] == 1
    with pytest.raises(Conflict, match="1 in versions, 1 in audit"):
        copy.copy_store(source, target)
    assert len(target.list_versions("counter-app")) == 1
