"""Filling a real store fast: one profile written through `Store`, the rest copied in raw SQL.

`Store.create_version` commits each version in its own WAL transaction (~10 ms here), far too
slow for 100,000 rows. So the template profile's versions (and their audit rows) are written by
the Store itself, and every other profile gets copies of exactly those rows with only its name
changed (and its YAML sealed again when the store seals), in one transaction. `check` then reads
a few copies back through the Store to prove they are what the Store itself would have written.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from typing import Any

from bot.core import model
from bot.core.model import Profile

ACTOR = "U0BENCH"
CHANNEL = "C0BENCH"


def versions_of(profile: Profile, count: int) -> list[Profile]:
    """`count` successive versions 1.0.0, 1.1.0, … of `profile` (lineage-compatible)."""
    return [profile.with_identity(version=f"1.{i}.0") for i in range(count)]


def seed(store: Any, template: Profile, names: Sequence[str], versions: int) -> None:
    """Profiles `names` (the first is written through the Store), each with `versions` versions."""
    first, rest = names[0], list(names[1:])
    for p in versions_of(template.with_identity(name=first), versions):
        store.create_version(p, actor=ACTOR, channel=CHANNEL, kind="import")
    sealer = store.sealer
    raw = sqlite3.connect(store.path, isolation_level=None)
    try:
        raw.row_factory = sqlite3.Row
        vrows = [dict(r) for r in raw.execute("SELECT * FROM versions WHERE name = ? ORDER BY id", [first])]
        arows = [dict(r) for r in raw.execute("SELECT * FROM audit WHERE profile = ? ORDER BY id", [first])]
        clear = [sealer.open(r["yaml"]) for r in vrows]
        vcols = [c for c in vrows[0] if c != "id"]
        acols = [c for c in arows[0] if c != "id"]

        def renamed(row: dict[str, Any], cols: list[str], name: str) -> list[Any]:
            return [row[c].replace(first, name) if isinstance(row[c], str) else row[c] for c in cols]

        raw.execute("BEGIN IMMEDIATE")
        for name in rest:
            vbatch = []
            for row, text in zip(vrows, clear, strict=True):
                values = renamed(row, vcols, name)
                values[vcols.index("yaml")] = sealer.seal(text.replace(first, name))
                vbatch.append(values)
            raw.executemany(
                f"INSERT INTO versions ({', '.join(vcols)}) VALUES ({', '.join('?' for _ in vcols)})", vbatch
            )
            raw.executemany(
                f"INSERT INTO audit ({', '.join(acols)}) VALUES ({', '.join('?' for _ in acols)})",
                [renamed(row, acols, name) for row in arows],
            )
        raw.execute("COMMIT")
    finally:
        raw.close()
    check(store, template, names, versions)


def check(store: Any, template: Profile, names: Sequence[str], versions: int, samples: int = 5) -> None:
    """Read copies back through the Store: the same profile under its own name, every version."""
    rng = random.Random(8)
    for name in [names[0], names[-1], *rng.sample(list(names), min(samples, len(names)))]:
        got = store.list_versions(name)
        if [r.version for r in got] != [p.version for p in versions_of(template, versions)]:
            raise RuntimeError(f"seeded {name} has versions {[r.version for r in got]}")
        expected = versions_of(template.with_identity(name=name), versions)[-1]
        if store.get_version(name).profile() != expected:
            raise RuntimeError(f"seeded {name} does not read back as the profile written")
    if len(store.list_profiles()) != len(names):
        raise RuntimeError("seeded store does not list every profile")


def template() -> Profile:
    from bench.common import PROFILES

    return model.from_yaml((PROFILES / "counter-app.yaml").read_text())
