"""Benchmarks with ratios against baselines measured in the same run (never asserted in tests).

- macros:  resolving a tier's properties vs. the same walk doing plain `str.replace`
- plan:    planning the 12-type example vs. deep-copying its rendered objects
- schema:  the plan with every object checked against the Kubernetes schema vs. without
- store:   saving a profile version (validation, lineage, audit, WAL) vs. a bare sqlite insert
"""

from __future__ import annotations

import copy
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import catalog_files
from bot import main as wiring
from bot.core import macros, model, plan
from bot.store.db import Store

ROOT = Path(__file__).resolve().parents[1]


def timeit(fn: Callable[[], Any], *, repeat: int = 5, number: int = 20) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def report(name: str, ours: float, base: float, what: str) -> None:
    print(
        f"{name:<8} {ours * 1e3:9.3f} ms  baseline {base * 1e3:9.3f} ms  ratio {ours / base:7.1f}x  ({what})"
    )


def bench_macros() -> None:
    props = {
        "env": [
            {
                "name": f"V{i}",
                "value": "{{.spectro.app.$appDeploymentName.db.POSTGRESMSTR_SVC}}:{{.spectro.system.cluster.name}}",
            }
            for i in range(50)
        ]
    }
    ctx = macros.Context(
        profile_name="p",
        profile_uid="u",
        profile_version="1.0.0",
        deployment_name="d",
        deployment_uid="u",
        tier_name="api",
        tier_uid="u",
        tier_params={"NAMESPACE": "ns"},
        cluster_name="dev",
        user_name="me",
        outputs={"db": {"POSTGRESMSTR_SVC": "db.ns.svc"}},
    )

    def naive(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: naive(x) for k, x in v.items()}
        if isinstance(v, list):
            return [naive(x) for x in v]
        return v.replace("{{.spectro.app.$appDeploymentName.db.POSTGRESMSTR_SVC}}", "db.ns.svc").replace(
            "{{.spectro.system.cluster.name}}", "dev"
        )

    report(
        "macros",
        timeit(lambda: macros.resolve(props, ctx, where="bench")),
        timeit(lambda: naive(props)),
        "50 env values",
    )


def bench_plan() -> None:
    profile = model.from_yaml((ROOT / "profiles" / "examples" / "everything.yaml").read_text())
    catalog = catalog_files.load()
    target = plan.Target(cluster="dev", deployment="bench")
    real = wiring.chart_renderer(wiring.Settings.from_env().helm_bin)
    cache: dict[tuple[Any, ...], str] = {}

    def charts(*args: Any) -> str:
        # helm itself is rendered once: the benchmark is about our planning, not helm's speed.
        key = tuple(json.dumps(a, sort_keys=True) for a in args)
        if key not in cache:
            cache[key] = real(*args)
        return cache[key]

    p = plan.build(profile, catalog, target, charts=charts)
    objs = [o for t in p.tiers for o in t.objects]
    ours = timeit(lambda: plan.build(profile, catalog, target, charts=charts), number=5)
    base = timeit(lambda: copy.deepcopy(objs), number=5)
    report("plan", ours, base, f"{len(profile.tiers)} tiers, {len(objs)} objects; baseline deep copy")
    from bot.kube import schema

    checked = timeit(
        lambda: plan.build(profile, catalog, target, charts=charts, check=schema.problems), number=3
    )
    report("schema", checked, ours, "the same plan with every object schema-checked; baseline: unchecked")


def bench_store() -> None:
    profile = model.from_yaml((ROOT / "profiles" / "examples" / "counter-app.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "b.db")
        raw = sqlite3.connect(Path(tmp) / "raw.db")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE v (name TEXT, version TEXT, yaml TEXT, UNIQUE(name, version))")
        text = model.to_yaml(profile)
        counter = iter(range(1, 10**6))

        def ours() -> None:
            n = next(counter)
            store.create_version(
                profile.with_identity(version=f"1.{n}.0"), actor="b", channel="b", kind="import"
            )

        def base() -> None:
            n = next(counter)
            with raw:
                raw.execute("INSERT INTO v VALUES (?, ?, ?)", ("p", f"1.{n}.0", json.dumps(text)))

        report("store", timeit(ours), timeit(base), "one version with audit row vs. bare insert")


def main() -> None:
    print(__doc__.strip().splitlines()[0])
    bench_macros()
    bench_plan()
    bench_store()


if __name__ == "__main__":
    main()
