"""Slack replay protection shared by every replica: a signed request executed by one replica is
refused by the store for any other within Slack's window, and forgotten after it."""

from __future__ import annotations

import threading

from tests.store.conftest import Backend


def test_a_signature_counts_once_across_two_replicas(backend: Backend) -> None:
    one, two = backend.open(), backend.open()  # two processes' own connections
    assert one.first_time("v0=abc") is True
    assert two.first_time("v0=abc") is False
    assert two.first_time("v0=def") is True


def test_concurrent_replicas_let_exactly_one_execute(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    barrier = threading.Barrier(len(stores), timeout=30)
    results: list[bool] = []
    lock = threading.Lock()

    def offer(store: object) -> None:
        barrier.wait()
        first = store.first_time("v0=same")  # type: ignore[attr-defined]
        with lock:
            results.append(first)

    threads = [threading.Thread(target=offer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [False, False, False, True]


def test_only_a_digest_is_kept_and_old_entries_are_forgotten(backend: Backend) -> None:
    store = backend.open()
    assert store.first_time("v0=secret-looking-signature", window=330.0)
    assert b"secret-looking-signature" not in backend.stored_bytes()
    # Outside the window (offered with a zero-second window) the old entry is purged first.
    assert store.first_time("v0=secret-looking-signature", window=-1.0) is True
