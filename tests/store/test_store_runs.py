"""Deployments, runs, the per-deployment queue, approvals, and resuming after a restart."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.errors import Conflict, NotFound
from bot.core.records import Run, TierState
from bot.store.db import Store
from tests.store.conftest import Backend


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: Backend, clock: Clock) -> Store:
    return backend.open(now=clock)


def new_run(store: Store, deployment: str = "shop", cluster: str = "prod", **extra: Any) -> Run:
    fields: dict[str, Any] = {
        "cluster": cluster,
        "deployment": deployment,
        "profile": "counter-app",
        "version": "1.0.0",
        "kind": "deploy",
        "requested_by": "U1",
        "channel": "C1",
        "fingerprint": "sha256:abc",
        **extra,
    }
    return store.create_run(**fields)


# -- deployments ---------------------------------------------------------------------------


def test_upsert_creates_then_updates_a_deployment(store: Store, clock: Clock) -> None:
    first = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    assert (first.status, first.version, first.created_by, first.updated_at) == (
        "pending", "1.0.0", "U1", "2023-11-14T22:13:20Z",
    )  # fmt: skip
    store.update_deployment(first.id, status="ready", last_good_version="1.0.0")
    clock.now += 60
    second = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.1.0", channel="C2", actor="U2"
    )
    assert second.id == first.id
    # The status is the executor's to move; the requester of the first deploy stays the creator.
    assert (second.status, second.version, second.channel, second.created_by) == (
        "ready",
        "1.1.0",
        "C2",
        "U1",
    )
    assert second.last_good_version == "1.0.0"
    assert second.updated_at == "2023-11-14T22:14:20Z"


def test_a_deleted_deployment_comes_back_pending(store: Store) -> None:
    d = store.upsert_deployment(
        "dev", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    store.update_deployment(d.id, status="deleted")
    again = store.upsert_deployment(
        "dev", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    assert again.status == "pending"


def test_update_deployment_persists_outputs_and_inventory(backend: Backend) -> None:
    store = backend.open()
    d = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    outputs = {"db": {"POSTGRESMSTR_SVC": "shop-db.shop-db-ns.svc", "PASSWORD": "••••••"}}
    inventory = [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "shop-db", "namespace": "ns", "tier": "db"}
    ]
    updated = store.update_deployment(d.id, outputs=outputs, inventory=inventory, message_ts="171.01")
    assert (updated.outputs, updated.inventory, updated.message_ts) == (outputs, inventory, "171.01")
    assert backend.open().get_deployment("prod", "shop") == updated


def test_update_deployment_refuses_bad_fields(store: Store) -> None:
    d = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    with pytest.raises(ValidationError):
        store.update_deployment(d.id, status="exploded")
    with pytest.raises(ValidationError):
        store.update_deployment(d.id, colour="blue")
    with pytest.raises(NotFound):
        store.update_deployment(d.id + 100, status="ready")
    assert store.get_deployment("prod", "shop") == d


def test_find_and_list_deployments(store: Store) -> None:
    for cluster, name in [("prod", "shop"), ("dev", "shop"), ("dev", "blog")]:
        store.upsert_deployment(
            cluster, name, profile="counter-app", version="1.0.0", channel="C1", actor="U1"
        )
    assert [d.ref for d in store.find_deployments("shop")] == ["dev/shop", "prod/shop"]
    assert [d.ref for d in store.list_deployments()] == ["dev/blog", "dev/shop", "prod/shop"]
    assert [d.ref for d in store.list_deployments("dev")] == ["dev/blog", "dev/shop"]
    assert store.get_deployment("prod", "blog") is None


# -- runs and the queue --------------------------------------------------------------------


def test_create_and_get_a_run(store: Store) -> None:
    tiers = [TierState(name="db"), TierState(name="api")]
    run = new_run(
        store,
        plan={"tiers": ["db", "api"]},
        tiers=tiers,
        options={"set": {"api.replicas": "3"}, "purge": False},
        status="awaiting_approval",
        expires_at=store.timestamp(7200),
    )
    assert run == store.get_run(run.id)
    assert (run.status, run.next_tier, run.tiers, run.expires_at) == (
        "awaiting_approval", 0, tiers, "2023-11-15T00:13:20Z",
    )  # fmt: skip
    with pytest.raises(ValueError, match="starts queued or awaiting_approval"):
        new_run(store, status="running")
    with pytest.raises(NotFound, match="run 999 does not exist"):
        store.get_run(999)


def test_update_run_persists_tiers_and_progress(backend: Backend, clock: Clock) -> None:
    store = backend.open(now=clock)
    run = new_run(store, tiers=[TierState(name="db"), TierState(name="api")])
    clock.now += 5
    progress = [
        TierState(name="db", state="ready", started_at=1.5, finished_at=9.25, message="StatefulSet ready"),
        {"name": "api", "state": "applying", "started_at": 9.5},
    ]
    updated = store.update_run(run.id, status="running", tiers=progress, next_tier=1, message_ts="171.02")
    assert updated.tiers[1] == TierState(name="api", state="applying", started_at=9.5)
    assert updated.updated_at == "2023-11-14T22:13:25Z"
    reopened = backend.open().get_run(run.id)
    assert reopened == updated
    assert reopened.tiers[0].message == "StatefulSet ready"


def test_update_run_refuses_what_a_run_cannot_hold(store: Store) -> None:
    run = new_run(store)
    with pytest.raises(ValidationError):
        store.update_run(run.id, status="half-done")
    with pytest.raises(ValidationError):
        store.update_run(run.id, tiers=[{"name": "db", "state": "sleeping"}])
    with pytest.raises(ValueError, match="id never changes"):
        store.update_run(run.id, id=5)
    assert store.get_run(run.id) == run


def test_update_run_only_if_status_guards_a_race(store: Store) -> None:
    run = new_run(store, status="awaiting_approval")
    store.update_run(run.id, status="rejected", only_if_status=("awaiting_approval",))
    with pytest.raises(Conflict, match=f"run {run.id} is already rejected"):
        store.update_run(run.id, status="queued", only_if_status=("awaiting_approval",))
    assert store.get_run(run.id).status == "rejected"


def test_claim_next_run_takes_the_oldest_and_one_at_a_time(store: Store) -> None:
    first = new_run(store)
    second = new_run(store)
    other = new_run(store, deployment="blog")
    claimed = store.claim_next_run("prod", "shop")
    assert claimed is not None
    assert (claimed.id, claimed.status) == (first.id, "running")
    assert store.get_run(first.id).status == "running"
    # One run at a time per (cluster, deployment); other deployments are independent.
    assert store.claim_next_run("prod", "shop") is None
    other_claim = store.claim_next_run("prod", "blog")
    assert other_claim is not None
    assert other_claim.id == other.id
    store.update_run(first.id, status="succeeded")
    claimed = store.claim_next_run("prod", "shop")
    assert claimed is not None
    assert claimed.id == second.id
    store.update_run(second.id, status="failed")
    assert store.claim_next_run("prod", "shop") is None


def test_claim_next_run_skips_runs_awaiting_approval(store: Store) -> None:
    new_run(store, status="awaiting_approval")
    queued = new_run(store)
    claimed = store.claim_next_run("prod", "shop")
    assert claimed is not None
    assert claimed.id == queued.id


def test_two_threads_claiming_get_one_run(backend: Backend) -> None:
    store = backend.open()
    for _ in range(3):
        new_run(store)
    barrier = threading.Barrier(2, timeout=10)
    claims: list[int | None] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        run = store.claim_next_run("prod", "shop")
        with lock:
            claims.append(run.id if run else None)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(claims, key=lambda c: c or 0) == [None, 1]
    assert [r.id for r in store.runs_with_status("running")] == [1]


def test_queue_positions(store: Store) -> None:
    a, b, c = new_run(store), new_run(store), new_run(store)
    elsewhere = new_run(store, cluster="dev")
    waiting = new_run(store, status="awaiting_approval")
    assert [store.queue_position(r.id) for r in (a, b, c, elsewhere)] == [0, 1, 2, 0]
    store.claim_next_run("prod", "shop")
    assert [store.queue_position(r.id) for r in (a, b, c)] == [0, 1, 2]
    store.update_run(a.id, status="succeeded")
    assert [store.queue_position(r.id) for r in (a, b, c)] == [0, 0, 1]
    store.claim_next_run("prod", "shop")
    assert [store.queue_position(r.id) for r in (b, c)] == [0, 1]
    assert store.queue_position(waiting.id) == 0


def test_a_running_run_is_found_after_a_restart(backend: Backend) -> None:
    before = backend.open()
    run = new_run(before, tiers=[TierState(name="db"), TierState(name="api")])
    new_run(before)  # still queued behind it
    before.claim_next_run("prod", "shop")
    before.update_run(run.id, next_tier=1, tiers=[TierState(name="db", state="ready"), TierState(name="api")])
    before.close()

    after = backend.open()
    running = after.runs_with_status("running")
    assert [(r.id, r.next_tier, r.tiers[0].state) for r in running] == [(run.id, 1, "ready")]
    assert [r.status for r in after.runs_with_status("running", "queued")] == ["running", "queued"]
    assert after.runs_with_status() == []


def test_running_and_latest_run_of_a_deployment(store: Store) -> None:
    assert store.running_run("prod", "shop") is None
    assert store.latest_run("prod", "shop") is None
    first = new_run(store)
    second = new_run(store, status="awaiting_approval")
    new_run(store, deployment="blog")
    store.claim_next_run("prod", "shop")
    running = store.running_run("prod", "shop")
    latest = store.latest_run("prod", "shop")
    assert running is not None
    assert latest is not None
    assert (running.id, latest.id) == (first.id, second.id)
    store.update_run(first.id, status="succeeded")
    assert store.running_run("prod", "shop") is None


def test_pending_approval_run_is_the_newest_waiting_one(store: Store) -> None:
    assert store.pending_approval_run("prod", "shop") is None
    new_run(store, status="awaiting_approval")
    newer = new_run(store, status="awaiting_approval")
    new_run(store)
    found = store.pending_approval_run("prod", "shop")
    assert found is not None
    assert found.id == newer.id
    assert store.pending_approval_run("dev", "shop") is None


# -- approvals -----------------------------------------------------------------------------


def test_a_second_decision_by_the_same_person_changes_nothing(store: Store, clock: Clock) -> None:
    run = new_run(store, status="awaiting_approval")
    assert store.add_approval(run.id, "U2", "approve", "sha256:abc") is True
    clock.now += 1
    assert store.add_approval(run.id, "U2", "reject", "sha256:other") is False
    assert store.add_approval(run.id, "U3", "approve", "sha256:abc") is True
    got = store.approvals(run.id)
    assert [(a.user, a.decision, a.fingerprint, a.at) for a in got] == [
        ("U2", "approve", "sha256:abc", "2023-11-14T22:13:20Z"),
        ("U3", "approve", "sha256:abc", "2023-11-14T22:13:21Z"),
    ]


def test_approvals_are_per_run(store: Store) -> None:
    one, two = new_run(store, status="awaiting_approval"), new_run(store, status="awaiting_approval")
    assert store.add_approval(one.id, "U2", "approve", "f") is True
    assert store.add_approval(two.id, "U2", "reject", "f") is True
    assert [a.decision for a in store.approvals(two.id)] == ["reject"]
    with pytest.raises(NotFound):
        store.add_approval(999, "U2", "approve", "f")
    with pytest.raises(ValidationError):
        store.add_approval(one.id, "U4", "maybe", "f")  # type: ignore[arg-type]
