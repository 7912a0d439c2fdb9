"""The plan: rendered objects, what changes against what is deployed, and a fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import catalog_files
from bot.core import model, plan
from bot.core.errors import UserError

EXAMPLE = model.from_yaml(
    (Path(__file__).resolve().parents[2] / "profiles" / "examples" / "counter-app.yaml").read_text()
)
CATALOG = catalog_files.load()
TARGET = plan.Target(cluster="dev", deployment="shop", user="alice")


def no_charts(*args: Any) -> str:
    raise AssertionError("no helm tier here")


def build(**kw: Any) -> plan.Plan:
    return plan.build(EXAMPLE, CATALOG, TARGET, charts=no_charts, **kw)


def test_first_plan_creates_everything_and_is_deterministic() -> None:
    p = build()
    counts = p.counts()
    assert counts["create"] == len(p.changes) > 0
    assert p.summary().startswith(f"{counts['create']} to create")
    assert build().fingerprint == p.fingerprint
    assert len(p.short_fingerprint) == 12
    assert [t.name for t in p.tiers] == ["postgres-db", "api", "ui"]
    assert p.tiers[0].namespace == "shop-postgres-db-ns"


def test_same_plan_again_is_unchanged_and_a_set_changes_it() -> None:
    first = build()
    again = build(deployed=first.inventory())
    assert again.counts()["unchanged"] == len(again.changes)
    changed = build(deployed=first.inventory(), sets={"api.replicas": "3"})
    assert changed.fingerprint != again.fingerprint
    assert {c.tier for c in changed.changes if c.action == "change"} == {"api"}
    api = next(o for o in changed.tiers[1].objects if o["kind"] == "Deployment")
    assert api["spec"]["replicas"] == 3


def test_objects_no_longer_rendered_are_pruned() -> None:
    first = build()
    smaller = EXAMPLE.model_copy(update={"tiers": EXAMPLE.tiers[:2]})
    p = plan.build(smaller, CATALOG, TARGET, charts=no_charts, deployed=first.inventory())
    pruned = [c for c in p.changes if c.action == "prune"]
    assert pruned and {c.tier for c in pruned} == {"ui"}


@pytest.mark.parametrize(
    ("sets", "needle"),
    [({"replicas": "3"}, "name the tier and property"), ({"apii.replicas": "3"}, "did you mean `api`")],
)
def test_bad_sets(sets: dict[str, str], needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        build(sets=sets)


def test_set_values_are_read_as_yaml() -> None:
    parsed = plan.parse_sets({"api.replicas": "3", "api.image": "x:[", "ui.access": ""}, EXAMPLE)
    assert parsed == {"api": {"replicas": 3, "image": "x:["}, "ui": {"access": ""}}


def test_generated_secrets_only_for_empty_generated_params() -> None:
    assert plan.generated_secret_params(CATALOG, EXAMPLE.tiers[0]) == ["password"]
    given = EXAMPLE.tiers[0].model_copy(update={"properties": {"password": "given-by-person"}})
    assert plan.generated_secret_params(CATALOG, given) == []
    assert plan.generated_secret_params(CATALOG, EXAMPLE.tiers[1]) == []
