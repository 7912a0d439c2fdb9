"""All of a profile's problems in one error, said in words; YAML nested without bound refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot import catalog_files
from bot.core import catalog, macros, model, validate
from bot.core.errors import MAX_PROBLEMS_SHOWN, InvalidProfile, Problem, UserError

CAT = catalog_files.load()

FIVE_MISTAKES = """\
name: shop
tiers:
  - name: db
    type: postgresql
    properties: {username: pg-user, volumeSize: 5000, version: "12", colour: blue}
  - name: api
    type: container
    properties: {replicas: 2}
"""


def invalid(data: Any) -> InvalidProfile:
    with pytest.raises(InvalidProfile) as info:
        validate.profile(data, CAT)
    return info.value


def test_five_mistakes_come_back_in_one_error_naming_tier_field_and_fix() -> None:
    err = invalid(model.from_yaml(FIVE_MISTAKES))
    assert [(p.tier, p.field) for p in err.problems] == [
        ("db", "tiers.db.properties.colour"),
        ("db", "tiers.db.properties.username"),
        ("db", "tiers.db.properties.version"),
        ("db", "tiers.db.properties.volumeSize"),
        ("api", "tiers.api.properties.image"),
    ]
    lines = err.message.splitlines()
    assert lines[0] == "the profile has 5 problems:"
    assert lines[1].startswith("1. tier db (postgresql): properties.colour is not a postgresql property")
    assert "available postgresql properties: " in lines[1]
    assert lines[2] == (
        '2. tier db (postgresql): properties.username is "pg-user"; postgresql username must be at most '
        "63 lowercase letters, digits and _, starting with a letter or _ (postgres and admin are reserved)"
    )
    assert lines[3] == (
        '3. tier db (postgresql): properties.version is "12"; postgresql version must be 14, 15, 16 or 17'
    )
    assert lines[4] == (
        "4. tier db (postgresql): properties.volumeSize is 5000; the largest allowed is 1000"
        " — Data volume size in GiB (1 to 1000)"
    )
    assert lines[5].startswith("5. tier api (container): properties.image is required — Image reference")
    assert err.field == "tiers.db.properties.colour"  # a modal points at the first one
    assert err.hint == "fix each problem listed and send the profile again; nothing was saved"
    for regex_text in ("^[a-z", "[a-z_]", "(?!", "1[4-7]", "{0,62}"):
        assert regex_text not in err.message


def test_structural_and_property_problems_come_together_from_parsed_yaml() -> None:
    data = model.parse_mapping(FIVE_MISTAKES.replace("name: shop", "name: Shop"))
    err = invalid(data)
    assert err.problems[0].field == "name"
    assert "profile name 'Shop'" in err.problems[0].message
    assert len(err.problems) == 6  # the name, then the five property problems


def test_namespace_and_macro_problems_join_the_list() -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
    data = {
        "name": "shop",
        "tiers": [
            {"name": "db", "type": "postgresql", "properties": {"volumeSize": 0}},
            {"name": "x", "type": "manifest", "manifests": [{"name": "m", "content": manifest}]},
            {
                "name": "api",
                "type": "container",
                "properties": {"image": "{{.spectro.app.$appDeploymentName.db.PASWORD}}"},
            },
        ],
    }
    err = invalid(model.from_data(data))
    messages = [p.message for p in err.problems]
    assert messages[0] == "tier db (postgresql): properties.volumeSize is 0; the smallest allowed is 1"
    assert messages[1] == "tier x: manifest `m` ConfigMap cfg names no namespace"
    assert messages[2].startswith("tier api: properties.image refers to output `PASWORD`")
    assert len(messages) == 3


def test_one_problem_reads_like_a_plain_error() -> None:
    err = InvalidProfile([Problem("tier a: broken", "fix it", "a", "tiers.a")])
    assert (err.message, err.hint, err.field) == ("tier a: broken", "fix it", "tiers.a")
    assert isinstance(err, UserError)


def test_the_list_is_bounded_and_the_same_problem_counts_once() -> None:
    many = [Problem(f"tier t{i}: broken", None, f"t{i}", f"tiers.t{i}") for i in range(80)]
    err = InvalidProfile(many + many)
    assert len(err.problems) == 80
    assert err.message.count("\n") == MAX_PROBLEMS_SHOWN + 1
    assert err.message.endswith("…and 30 more")


def test_check_properties_raises_all_problems_of_a_tier() -> None:
    with pytest.raises(InvalidProfile) as info:
        catalog.check_properties("db", CAT.get("redis"), {"version": 7, "volumeSize": "big", "port": 1})
    assert [p.field for p in info.value.problems] == [
        "tiers.db.properties.port",
        "tiers.db.properties.version",
        "tiers.db.properties.volumeSize",
    ]
    assert "properties.version is 7; redis version must be 7.2 or 7.4" in info.value.message
    assert "properties.volumeSize must be an integer, not text" in info.value.message


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("integer", "x", "must be an integer, not text"),
        ("object", [1], "must be an object (a mapping of keys to values), not a list"),
        ("list", {"a": 1}, "must be a list, not an object"),
        ("boolean", 1, "must be a boolean (true or false), not an integer"),
        ("number", True, "must be a number, not a boolean"),
        ("string", [], "must be text, not a list"),
    ],
)
def test_kind_errors_use_the_right_article(kind: Any, value: Any, words: str) -> None:
    svc = catalog.ServiceType(
        type="t", title="T", description="", params=[catalog.Param(name="p", kind=kind)]
    )
    problems = catalog.property_problems("a", svc, {"p": value})
    assert [p.message for p in problems] == [f"tier a (t): properties.p {words}"]


def test_a_number_for_a_text_parameter_meets_its_pattern_as_text() -> None:
    catalog.check_properties("db", CAT.get("postgresql"), {"version": 16})
    with pytest.raises(InvalidProfile, match="postgresql version must be 14, 15, 16 or 17"):
        catalog.check_properties("db", CAT.get("postgresql"), {"version": 12})


PATTERNED = [(s.type, p) for s in CAT.services.values() for p in s.params if p.pattern]


@pytest.mark.parametrize(("svc_type", "param"), PATTERNED, ids=lambda v: getattr(v, "name", v))
def test_every_pattern_is_explained_and_never_shown(svc_type: str, param: catalog.Param) -> None:
    assert param.pattern_help
    problems = catalog.property_problems("a", CAT.get(svc_type), {param.name: "not valid!"})
    assert [p.message for p in problems if p.field == f"tiers.a.properties.{param.name}"] == [
        f'tier a ({svc_type}): properties.{param.name} is "not valid!"; '
        f"{svc_type} {param.name} must be {param.pattern_help}"
    ]


def test_a_pattern_needs_its_words() -> None:
    with pytest.raises(ValueError, match="no pattern_help"):
        catalog.Param(name="p", pattern="[a-z]+")


# --- nesting -------------------------------------------------------------------------------

DEEP_FLOW = "[" * 10_000 + "]" * 10_000
DEEP_BLOCK = "- " * 10_000 + "x\n"
TOO_DEEP = f"the YAML is too deeply nested (more than {model.MAX_DEPTH} levels)"


@pytest.mark.parametrize("nested", [DEEP_FLOW, DEEP_BLOCK], ids=["flow", "block"])
def test_deep_yaml_in_a_profile_is_a_clear_user_error(nested: str) -> None:
    text = f"name: shop\ntiers:\n  - name: a\n    type: helm\n    properties:\n      values: {nested}"
    if nested is DEEP_BLOCK:
        text = "name: shop\ntags:\n  " + nested
    with pytest.raises(UserError) as info:
        model.from_yaml(text)
    assert info.value.message == TOO_DEEP
    assert info.value.field == "yaml"


def test_deep_mapping_chain_in_flow_style_is_refused() -> None:
    with pytest.raises(UserError, match=re.escape(TOO_DEEP)):
        model.from_yaml("{a: " * 10_000 + "1" + "}" * 10_000)


@pytest.mark.parametrize("nested", [DEEP_FLOW, DEEP_BLOCK], ids=["flow", "block"])
def test_deep_yaml_in_a_manifest_names_tier_and_manifest(nested: str) -> None:
    tier = {"name": "x", "type": "manifest", "manifests": [{"name": "deep", "content": nested}]}
    err = invalid(model.from_data({"name": "shop", "tiers": [tier]}))
    assert err.message == f"tier x: manifest `deep`: {TOO_DEEP}"
    assert err.field == "tiers.x.manifests.deep"


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = model.MAX_DEPTH - 1  # the document's own mapping is the first level
    value = model.load_yaml("a: " + "[" * depth + "]" * depth)
    assert model.data_depth(value) == model.MAX_DEPTH
    with pytest.raises(model.YamlLimit):
        model.load_yaml("a: " + "[" * (depth + 1) + "]" * (depth + 1))


def test_deep_python_data_is_refused_without_recursion() -> None:
    deep: Any = "x"
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(UserError, match=re.escape(TOO_DEEP)):
        model.from_data({"name": "shop", "tiers": [{"name": "a", "type": "helm", "properties": {"v": deep}}]})


def test_aliases_cannot_nest_deeper_or_refer_to_themselves_or_explode() -> None:
    half = model.MAX_DEPTH // 2 + 5
    anchored = "a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half
    with pytest.raises(model.YamlLimit, match="too deeply nested"):
        model.load_yaml(anchored)
    with pytest.raises(model.YamlLimit, match="refers to itself"):
        model.load_yaml("a: &a [*a]")
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 7)]
    with pytest.raises(model.YamlLimit, match="expands to more than"):
        model.load_yaml("\n".join(lines))
    assert model.load_yaml("a: &a {k: v}\nb: *a") == {"a": {"k": "v"}, "b": {"k": "v"}}


def test_manifest_that_is_not_yaml_says_so_with_tier_and_manifest() -> None:
    doc = model.ManifestDoc(name="cfg", content="kind: [unclosed\n")
    with pytest.raises(UserError) as info:
        macros.manifest_documents("x", doc)
    assert info.value.message.startswith("tier x: manifest `cfg` is not valid YAML at line 2")
    assert info.value.field == "tiers.x.manifests.cfg"


def test_several_yaml_documents_are_not_one_profile() -> None:
    with pytest.raises(UserError, match="not valid YAML: expected a single document"):
        model.from_yaml("name: a\n---\nname: b\n")
    assert yaml.safe_load("a: 1") == model.load_yaml("a: 1")
