"""The profile model: every DESIGN §2 rule, readable errors, and an exact YAML round trip."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import model
from bot.core.errors import InvalidProfile, UserError

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
version = st.tuples(*[st.integers(0, 999)] * 3).map(lambda t: ".".join(map(str, t)))
scalar = st.one_of(st.integers(-1000, 1000), st.booleans(), st.text(string.printable, max_size=20))
props = st.dictionaries(st.from_regex(r"[a-z][a-zA-Z]{0,8}", fullmatch=True), scalar, max_size=4)


@st.composite
def profiles(draw: Any) -> model.Profile:
    names = draw(st.lists(label, min_size=1, max_size=5, unique=True))
    tiers = []
    for n in names:
        t = draw(st.sampled_from(["container", "redis", "manifest", "helm", "postgresql"]))
        tier: dict[str, Any] = {"name": n, "type": t, "properties": draw(props)}
        if t == "manifest":
            tier["manifests"] = [{"name": "m", "content": "kind: ConfigMap\n"}]
        if t in ("helm", "manifest") and draw(st.booleans()):
            tier["outputs"] = [{"name": "OUT_1", "value": draw(st.text(string.ascii_letters, max_size=10))}]
        if draw(st.booleans()):
            tier["parameters"] = {"NAMESPACE": f"{n}-ns"}
        tiers.append(tier)
    return model.from_data(
        {
            "name": draw(label),
            "version": draw(version),
            "description": draw(st.text(max_size=40)),
            "tags": draw(st.lists(st.text(string.ascii_letters + ":", min_size=1, max_size=10), max_size=3)),
            "tiers": tiers,
        }
    )


@settings(max_examples=150, deadline=None)
@given(profiles())
def test_yaml_round_trips_exactly(p: model.Profile) -> None:
    text = model.to_yaml(p)
    again = model.from_yaml(text)
    assert again == p
    assert model.to_yaml(again) == text


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("v2", "2.0.0"),
        ("2", "2.0.0"),
        ("2.0", "2.0.0"),
        ("2.0.0", "2.0.0"),
        ("V1.2", "1.2.0"),
        (" 3.4.5 ", "3.4.5"),
    ],
)
def test_version_shorthands(given_: str, expected: str) -> None:
    assert model.normalize_version(given_) == expected


@pytest.mark.parametrize("bad", ["", "v", "1.2.3.4", "1.x", "-1", "1.2.3-rc1", "9999999"])
def test_bad_versions_are_user_errors(bad: str) -> None:
    with pytest.raises(UserError) as err:
        model.normalize_version(bad)
    assert err.value.field == "version"


def test_latest_is_by_semver() -> None:
    assert model.version_key("1.10.0") > model.version_key("1.9.9")


BASE = {"name": "app", "tiers": [{"name": "db", "type": "redis"}]}


def _err(data: Any) -> str:
    with pytest.raises(UserError) as err:
        model.from_data(data)
    return str(err.value)


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"name": "App"}, "profile name 'App'"),
        ({"name": "a" * 41}, "at most 40"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [{"name": "Db", "type": "redis"}]}, "tier Db: name"),
        (
            {"tiers": [{"name": "db", "type": "redis", "colour": 1}]},
            "tier db: unknown field `colour`",
        ),
        ({"tiers": [{"name": "db"}]}, "tier db: `type` is required"),
        ({"tiers": [{"name": "db", "type": "manifest"}]}, "needs at least one entry in `manifests`"),
        (
            {"tiers": [{"name": "db", "type": "redis", "manifests": [{"name": "m", "content": "x"}]}]},
            "belongs to manifest",
        ),
        (
            {"tiers": [{"name": "db", "type": "redis", "outputs": [{"name": "X", "value": "1"}]}]},
            "publishes its outputs itself",
        ),
        (
            {"tiers": [{"name": "w", "type": "helm", "outputs": [{"name": "lower", "value": "1"}]}]},
            "UPPER_SNAKE_CASE",
        ),
        ({"tiers": [{"name": "w", "type": "helm", "outputs": [{"name": "X"}]}]}, "exactly one of value"),
        (
            {
                "tiers": [
                    {
                        "name": "w",
                        "type": "helm",
                        "outputs": [{"name": "X", "value": "1"}, {"name": "X", "value": "2"}],
                    }
                ]
            },
            "output X is declared twice",
        ),
        (
            {
                "tiers": [
                    {
                        "name": "m",
                        "type": "manifest",
                        "manifests": [{"name": "a", "content": "x"}, {"name": "a", "content": "y"}],
                    }
                ]
            },
            "manifest a is declared twice",
        ),
        ({"tags": ["x" * 65]}, "1 to 64"),
        ({"tiers": [{"name": f"t{i}", "type": "redis"} for i in range(51)]}, "tiers"),
        ({"version": "two"}, "not a version"),
    ],
)
def test_rule_violations_name_the_tier_and_field(patch: dict[str, Any], needle: str) -> None:
    assert needle in _err(BASE | patch)


def test_all_structural_errors_come_in_one_numbered_list() -> None:
    data = {"name": "App", "tiers": [{"name": "db", "type": "redsi", "colour": 1}, {"type": "redis"}]}
    with pytest.raises(InvalidProfile) as err:
        model.from_data(data)
    assert [p.field for p in err.value.problems] == [
        "name",
        "tiers.db.type",
        "tiers.db",
        "tiers.#2",
    ]
    lines = err.value.message.splitlines()
    assert lines[0] == "the profile has 4 problems:"
    assert lines[1].startswith("1. name: profile name 'App' must be lowercase")
    assert lines[2].startswith("2. tier db: type: unknown tier type `redsi` — did you mean `redis`?")
    assert lines[3].startswith("3. tier db: unknown field `colour` — available fields: ")
    assert lines[4] == "4. tier #2: `name` is required"
    assert err.value.field == "name"


def test_many_errors_are_cut_at_fifty() -> None:
    data = {"name": "app", "tiers": [{"name": f"T{i}", "type": "nope"} for i in range(30)]}
    message = _err(data)
    assert "the profile has 60 problems:" in message
    assert "50. tier T24: " in message
    assert "51. " not in message
    assert "…and 10 more" in message


def test_problems_are_said_in_words() -> None:
    data = {"name": "app", "tiers": [{"name": "db", "type": "redis", "parameters": {"A": 1}, "outputs": "x"}]}
    message = _err(data)
    assert "tier db: parameters.A: must be text, not an integer" in message
    assert "tier db: outputs: must be a list, not text" in message
    assert "tier #1: must be an object" in _err({"name": "app", "tiers": ["db"]})


def test_not_a_mapping_and_bad_yaml() -> None:
    assert "YAML mapping" in _err(["a"])
    with pytest.raises(UserError, match="not valid YAML at line 1"):
        model.from_yaml("name: [")
    with pytest.raises(UserError, match="256 KiB"):
        model.from_yaml("x" * (257 * 1024))


def test_lineage_keeps_tier_types() -> None:
    v1 = model.from_data(BASE)
    v2 = model.from_data({"name": "app", "tiers": [{"name": "db", "type": "postgresql"}]})
    with pytest.raises(UserError, match="type changes from redis to postgresql"):
        model.check_lineage(v1, v2)
    model.check_lineage(v1, model.from_data({"name": "app", "tiers": [{"name": "other", "type": "mysql"}]}))


def test_identity_and_lookup() -> None:
    p = model.from_data(BASE)
    assert p.ref == "app@1.0.0"
    assert p.tier("db").type == "redis"
    with pytest.raises(KeyError):
        p.tier("missing")
    assert p.with_identity(name="copy", version="2.0.0").ref == "copy@2.0.0"
