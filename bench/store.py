"""`list`, `show` and `versions` on a store of 10,000 profiles × 10 versions vs raw sqlite3.

A real SQLite file (WAL, the bot's schema) is filled by `bench.seed`: one profile through `Store`,
the others as copies of its rows. Ours: `Store.list_profiles()`, `Store.get_version(name)` (latest,
what `show NAME` reads), `Store.get_version(name, version)` (`show NAME@V`) and
`Store.list_versions(name)`. Baseline: a plain `sqlite3` connection to the same file running the
same SELECT (the store's own query for the listing) with `fetchall()`, returning the same rows.
Names are drawn at random, the same sequence on both sides; rounds alternate between the two.

The store seals version YAML when APPPROFILE_SECRET_KEY is set; then reading a version also
decrypts it. That is measured on a profile whose 10 versions were written by a sealing Store.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench import rig, seed
from bench.common import Figure, interleaved
from bot.store.db import Store
from bot.store.sealing import Sealer

PROFILES_N = 10_000
VERSIONS_N = 10
GOAL = 2.0
_COLUMNS = "name, version, yaml, description, tags, created_by, created_at, kind, source"
# The statement `bot.store.profiles.list_profiles` runs (copied: the baseline is raw sqlite3).
LIST_SQL = """
        SELECT name, version AS latest_version, version_count, description, updated_at FROM (
            SELECT name, version, description,
                ROW_NUMBER() OVER (PARTITION BY name ORDER BY major DESC, minor DESC, patch DESC) AS rank,
                COUNT(*) OVER (PARTITION BY name) AS version_count,
                MAX(created_at) OVER (PARTITION BY name) AS updated_at
            FROM versions
        ) WHERE rank = 1 ORDER BY name
        """
LATEST_SQL = (
    f"SELECT {_COLUMNS} FROM versions WHERE name = ? ORDER BY major DESC, minor DESC, patch DESC LIMIT 1"
)
EXACT_SQL = f"SELECT {_COLUMNS} FROM versions WHERE name = ? AND version = ?"
VERSIONS_SQL = f"SELECT {_COLUMNS} FROM versions WHERE name = ? ORDER BY major, minor, patch"


def _names(names: list[str]) -> Callable[[], str]:
    """A fresh random sequence of names; two calls give the two sides the same sequence."""
    rng = random.Random(3)
    picks = [rng.choice(names) for _ in range(4096)]
    cycle = itertools.cycle(picks)
    return lambda: next(cycle)


def _pair(
    label: str,
    ours: Callable[[str], Any],
    raw: Callable[[str], Any],
    names: list[str],
    *,
    same: Callable[[Any, Any], bool],
    rounds: int,
    number: int,
    what: str,
) -> Figure:
    probe = names[len(names) // 2]
    if not same(ours(probe), raw(probe)):
        raise RuntimeError(f"{label}: the store and the raw query disagree on {probe}")
    a, b = _names(names), _names(names)
    t_ours, t_raw = interleaved(lambda: ours(a()), lambda: raw(b()), rounds=rounds, number=number)
    return Figure(label, t_ours, t_raw, "s", GOAL, what)


def run() -> list[Figure]:
    with rig.workdir() as tmp:
        path = Path(tmp) / "appprofile.db"
        store = Store(path)
        names = [f"bench-{i:05d}" for i in range(PROFILES_N - 1)]
        start = time.perf_counter()
        seed.seed(store, seed.template(), names, VERSIONS_N)
        sealed_store = Store(path, sealer=Sealer(Fernet.generate_key().decode()))
        sealed = ["zz-sealed"]
        for p in seed.versions_of(seed.template().with_identity(name=sealed[0]), VERSIONS_N):
            sealed_store.create_version(p, actor=seed.ACTOR, channel=seed.CHANNEL, kind="import")
        seeded = time.perf_counter() - start
        raw = sqlite3.connect(path)
        try:
            listing = store.list_profiles()
            if len(listing) != PROFILES_N or sum(p.version_count for p in listing) != PROFILES_N * VERSIONS_N:
                raise RuntimeError("the seeded store does not hold 10,000 profiles × 10 versions")
            where = f"{PROFILES_N:,} profiles × {VERSIONS_N} versions (seeded in {seeded:.1f} s)"

            def rows_match(recs: Any, rows: Any) -> bool:
                recs = recs if isinstance(recs, list) else [recs]
                return [(r.name, r.version) for r in recs] == [(r[0], r[1]) for r in rows]

            figures = [
                _pair(
                    "list (10k profiles)",
                    lambda _n: store.list_profiles(),
                    lambda _n: raw.execute(LIST_SQL).fetchall(),
                    names,
                    same=lambda o, r: (
                        [(p.name, p.latest_version, p.version_count) for p in o] == [tuple(x[:3]) for x in r]
                    ),
                    rounds=7,
                    number=1,
                    what=f"Store.list_profiles() vs the same SELECT; {where}",
                ),
                _pair(
                    "show NAME (latest)",
                    store.get_version,
                    lambda n: raw.execute(LATEST_SQL, [n]).fetchall(),
                    names,
                    same=rows_match,
                    rounds=9,
                    number=300,
                    what="Store.get_version(name) vs SELECT … ORDER BY semver DESC LIMIT 1",
                ),
                _pair(
                    "show NAME@V",
                    lambda n: store.get_version(n, "1.4.0"),
                    lambda n: raw.execute(EXACT_SQL, [n, "1.4.0"]).fetchall(),
                    names,
                    same=rows_match,
                    rounds=9,
                    number=300,
                    what="Store.get_version(name, '1.4.0') vs SELECT … WHERE name = ? AND version = ?",
                ),
                _pair(
                    "versions NAME",
                    store.list_versions,
                    lambda n: raw.execute(VERSIONS_SQL, [n]).fetchall(),
                    names,
                    same=rows_match,
                    rounds=9,
                    number=200,
                    what="Store.list_versions(name), 10 versions, vs SELECT … ORDER BY semver",
                ),
                _pair(
                    "show NAME (sealed)",
                    sealed_store.get_version,
                    lambda n: raw.execute(LATEST_SQL, [n]).fetchall(),
                    sealed,
                    same=rows_match,
                    rounds=9,
                    number=300,
                    what="with APPPROFILE_SECRET_KEY: the YAML is decrypted (Fernet) on read; raw returns the token",
                ),
                _pair(
                    "versions NAME (sealed)",
                    sealed_store.list_versions,
                    lambda n: raw.execute(VERSIONS_SQL, [n]).fetchall(),
                    sealed,
                    same=rows_match,
                    rounds=9,
                    number=100,
                    what="with APPPROFILE_SECRET_KEY: 10 versions decrypted",
                ),
            ]
        finally:
            raw.close()
            store.close()
            sealed_store.close()
    return figures
