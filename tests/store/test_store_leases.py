"""Runs as leases, for several replicas: a claim leases the run to its driver, which renews it;
a run whose lease ran out can be taken over by exactly one other replica.

Each "replica" is a Store of its own (its own connections), as another process would have."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from bot.core.records import Run
from bot.store.db import PROCESS_OWNER, Store
from tests.store.conftest import Backend
from tests.store.test_store_runs import Clock, new_run


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: Backend, clock: Clock) -> Store:
    return backend.open(now=clock)


def race(contenders: list[Callable[[], Any]]) -> list[Any]:
    """Start every contender at the same moment (each on its own thread); their results."""
    barrier = threading.Barrier(len(contenders), timeout=30)
    results: list[Any] = [None] * len(contenders)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = contenders[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(contenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a contender is still waiting"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def test_a_claim_leases_the_run_to_its_owner(store: Store) -> None:
    run = new_run(store)
    claimed = store.claim_next_run("prod", "shop", owner="replica-a", lease_seconds=60)
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.lease_owner) == (run.id, "running", "replica-a")
    assert claimed.lease_expires_at == "2023-11-14T22:14:20Z"
    assert store.get_run(run.id) == claimed


def test_the_old_signature_leases_to_this_process_for_30_seconds(store: Store) -> None:
    new_run(store)
    claimed = store.claim_next_run("prod", "shop")
    assert claimed is not None
    assert (claimed.lease_owner, claimed.lease_expires_at) == (PROCESS_OWNER, "2023-11-14T22:13:50Z")
    assert str(PROCESS_OWNER).count(":") == 2  # host:pid:random


def test_two_replicas_claiming_together_get_one_run(backend: Backend, clock: Clock) -> None:
    replicas = [backend.open(now=clock), backend.open(now=clock)]
    for round_ in range(5):
        deployment = f"shop-{round_}"
        for _ in range(2):
            new_run(replicas[0], deployment=deployment)
        claims: list[Run | None] = race(
            [
                partial(r.claim_next_run, "prod", deployment, owner=f"replica-{i}")
                for i, r in enumerate(replicas)
            ]
        )
        won = [c for c in claims if c is not None]
        assert len(won) == 1, claims
        assert [r.id for r in replicas[1].runs_with_status("running") if r.deployment == deployment] == [
            won[0].id
        ]


def test_renewing_extends_only_the_owners_lease(store: Store, clock: Clock) -> None:
    run = new_run(store)
    store.claim_next_run("prod", "shop", owner="a", lease_seconds=30)
    clock.now += 20
    assert store.renew_lease(run.id, "a", 30) is True
    assert store.get_run(run.id).lease_expires_at == "2023-11-14T22:14:10Z"
    assert store.renew_lease(run.id, "b", 30) is False
    assert store.get_run(run.id).lease_owner == "a"
    store.update_run(run.id, status="succeeded")
    assert store.renew_lease(run.id, "a", 30) is False  # a finished run has no lease to keep


def test_expired_running_runs_are_the_ones_to_take_over(store: Store, clock: Clock) -> None:
    short, long_ = new_run(store), new_run(store, deployment="blog")
    store.claim_next_run("prod", "shop", owner="a", lease_seconds=10)
    store.claim_next_run("prod", "blog", owner="a", lease_seconds=100)
    new_run(store, deployment="docs")  # queued: no lease to expire
    assert store.expired_running_runs() == []
    clock.now += 10
    assert [r.id for r in store.expired_running_runs()] == [short.id]
    clock.now += 90
    assert [r.id for r in store.expired_running_runs()] == [short.id, long_.id]
    # A run set running without a lease (as before leases existed) has none to wait for.
    legacy = new_run(store, deployment="old")
    store.update_run(legacy.id, status="running")
    assert legacy.id in [r.id for r in store.expired_running_runs()]


def test_an_unexpired_lease_cannot_be_taken(store: Store, clock: Clock) -> None:
    run = new_run(store)
    store.claim_next_run("prod", "shop", owner="a", lease_seconds=30)
    clock.now += 29
    assert store.take_over(run.id, "b", 30) is None
    assert store.get_run(run.id).lease_owner == "a"
    queued = new_run(store)
    assert store.take_over(queued.id, "b", 30) is None  # not running: nothing to take over
    assert store.get_run(queued.id).status == "queued"


def test_one_of_two_contenders_takes_over_an_expired_lease(backend: Backend, clock: Clock) -> None:
    first = backend.open(now=clock)
    runs = [new_run(first, deployment=f"shop-{i}") for i in range(5)]
    for run in runs:
        first.claim_next_run("prod", run.deployment, owner="dead", lease_seconds=30)
    clock.now += 31
    contenders = [backend.open(now=clock), backend.open(now=clock)]
    for run in runs:
        taken: list[Run | None] = race(
            [partial(c.take_over, run.id, f"replica-{i}", 30) for i, c in enumerate(contenders)]
        )
        won = [t for t in taken if t is not None]
        assert len(won) == 1, taken
        winner = won[0].lease_owner
        assert winner in ("replica-0", "replica-1")
        assert won[0].lease_expires_at == first.timestamp(30)
        assert won[0].status == "running"
        loser = "replica-1" if winner == "replica-0" else "replica-0"
        assert first.renew_lease(run.id, winner, 30) is True
        assert first.renew_lease(run.id, loser, 30) is False
        # The dead driver, should it wake up, learns that the run is no longer its own.
        assert first.renew_lease(run.id, "dead", 30) is False
    assert first.expired_running_runs() == []


def test_running_run_still_means_the_run_holding_the_turn(store: Store, clock: Clock) -> None:
    run = new_run(store)
    store.claim_next_run("prod", "shop", owner="a", lease_seconds=5)
    clock.now += 60  # expired, but still the deployment's running run until someone finishes it
    running = store.running_run("prod", "shop")
    assert running is not None
    assert running.id == run.id
    assert store.claim_next_run("prod", "shop", owner="b") is None
