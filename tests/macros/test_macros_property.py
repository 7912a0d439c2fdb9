"""Properties: any text resolves or gives a UserError; downward references always resolve fully."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.core import macros, model, validate
from bot.core.errors import UserError
from tests.macros.test_macros_catalog import CATALOG, ctx

SECRET = "Zq9-secret-Zq9"
OUTPUTS = {
    "postgres-db": {"PASSWORD": SECRET, "USERNAME": "pg", "POSTGRESMSTR_SVC_PORT": 5432},
    "api": {"CONTAINER_SVC": "shop-api-svc"},
}

ALPHABET = '{{{{}}}}..$$||"" \t\\aZ9-_()*\'+,'
TOKENS = [
    "{{",
    "}}",
    "{{ ",
    " }}",
    ".spectro",
    ".system",
    ".app",
    ".$appDeploymentName",
    ".$appdeploymentName",
    ".$appDepName-",
    ".postgres-db",
    ".database-postgres-db",
    ".api",
    ".PASSWORD",
    ".POSTGRESMSTR_SVC_PORT",
    ".CONTAINER_SVC",
    ".cluster",
    ".name",
    ".apptier",
    ".NAMESPACE",
    ".appdeployment",
    ".tiername",
    " | ",
    "|",
    "default",
    ' "x"',
    ' "',
    "upper",
    "quote",
    "b64enc",
    "trim",
    '"{{"',
    '"}}"',
    '"',
    "\\",
    " ",
    "$",
    ".",
    "x",
    "__class__",
    "(",
    ")",
]
PATHS = [
    ".spectro.system.cluster.name",
    ".spectro.system.apptier.NAMESPACE",
    ".spectro.system.nope",
    ".spectro.app.$appDeploymentName.postgres-db.PASSWORD",
    ".spectro.app.$appdeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT",
    ".spectro.app.$appDepName-api.CONTAINER_SVC",
    ".spectro.app.$appDeploymentName.database-postgres-db.USERNAME",
    ".spectro.app.$appDeploymentName.postgres-db.MISSING",
    ".spectro.app.$appDeploymentName.nowhere.X",
]
FILTER_TEXT = [
    " | upper",
    "|lower",
    ' | default "d"',
    " | quote",
    "|b64enc",
    " | trim",
    " | attr",
    ' | default "',
    "|",
]
# Mostly well-formed macros with a chance of damage, so lookups and filters are exercised as well.
MACRO = st.builds(
    lambda pad, path, filters, end: "{{" + pad + path + "".join(filters) + end,
    st.sampled_from(["", " ", "\t"]),
    st.one_of(st.sampled_from(PATHS), st.lists(st.sampled_from(TOKENS), max_size=8).map("".join)),
    st.lists(st.sampled_from(FILTER_TEXT), max_size=3),
    st.sampled_from(["}}", " }}", "}}", "}", ""]),
)
GOOD_MACRO = st.builds(
    lambda pad, path, filters: "{{" + pad + path + "".join(filters) + pad + "}}",
    st.sampled_from(["", " "]),
    st.sampled_from(PATHS),
    st.lists(st.sampled_from(FILTER_TEXT[:6]), max_size=3),
)
TEXT = st.one_of(
    st.lists(st.one_of(GOOD_MACRO, st.text(alphabet="ab -:", max_size=4)), min_size=1, max_size=4).map(
        "".join
    ),
    st.text(alphabet=ALPHABET, max_size=60),
    st.lists(st.sampled_from(TOKENS), max_size=24).map("".join),
    st.lists(
        st.one_of(MACRO, st.sampled_from(TOKENS), st.text(alphabet=ALPHABET, max_size=5)), max_size=6
    ).map("".join),
    st.text(max_size=30),
)


def attempt(fn: Callable[[], Any]) -> tuple[Any, UserError | None]:
    """Run `fn`; a UserError is an answer too. Anything else propagates and fails the test."""
    try:
        return fn(), None
    except UserError as exc:
        return None, exc


@settings(max_examples=200, deadline=None)
@given(text=TEXT, placeholders=st.booleans())
def test_any_text_resolves_or_is_a_user_error(text: str, placeholders: bool) -> None:
    context = ctx(OUTPUTS, placeholders=placeholders)
    refs, parse_error = attempt(lambda: macros.references(text, where="w"))
    out, error = attempt(lambda: macros.resolve(text, context, where="w"))
    if parse_error is not None:
        # Whatever fails to parse also fails to resolve, with the same message.
        assert error is not None
        assert error.message == parse_error.message
    elif error is not None:
        assert refs, "a text without macros cannot fail"
        assert SECRET not in str(error)
    else:
        if "{{" not in text:
            assert out == text
        assert out is None or isinstance(out, (str, int, bool))
    event("parse error" if parse_error else "lookup error" if error else f"resolved, {len(refs)} macro(s)")


@settings(max_examples=100, deadline=None)
@given(text=TEXT)
def test_check_of_any_text_passes_or_is_a_user_error(text: str) -> None:
    p = model.from_data(
        {
            "name": "demo",
            "tiers": [
                {"name": "postgres-db", "type": "postgresql"},
                {
                    "name": "api",
                    "type": "container",
                    "properties": {"image": "x", "env": [{"name": "A", "value": text}]},
                },
            ],
        }
    )
    _, error = attempt(lambda: macros.check(p, CATALOG))
    if error is not None:
        assert error.field is not None
        assert error.field.startswith("tiers.api.properties.env[0].value")


# --- random valid profiles whose references all point downward -----------------------------------

TYPES = ["container", "postgresql", "mysql"]
LITERAL = st.text(alphabet="abcXYZ019 -:/.$|\"'_", max_size=8)
VALUE = st.one_of(st.text(alphabet="abcxyz019 -:/._", max_size=10), st.integers(0, 65535))
DEPLOYMENT = "shop"


def system_values(tier: str) -> dict[str, str]:
    return {
        "appprofile.name": "demo",
        "appprofile.uid": "puid",
        "appprofile.version": "1.0.0",
        "appdeployment.name": DEPLOYMENT,
        "appdeployment.uid": "duid",
        "appdeployment.tiername": f"{DEPLOYMENT}-{tier}",
        "apptier.name": tier,
        "apptier.uid": f"uid-{tier}",
        "apptier.NAMESPACE": f"{DEPLOYMENT}-{tier}-ns",
        "cluster.name": "dev",
        "user.name": "ann",
    }


def tier_outputs(type_name: str) -> list[str]:
    return CATALOG.get(type_name).output_names()


@st.composite
def segment(draw: st.DrawFn, k: int, types: list[str]) -> tuple[str, Any]:
    """One piece of a string: ("lit", text) | ("esc", "{{") | ("sys", var) | ("out", (tier, OUTPUT, form))."""
    kinds = ["lit", "esc", "sys"] + (["out", "out", "out"] if k > 0 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "lit":
        return kind, draw(LITERAL)
    if kind == "esc":
        return kind, draw(st.sampled_from(["{{", "}}"]))
    if kind == "sys":
        return kind, draw(st.sampled_from(sorted(system_values("x"))))
    j = draw(st.integers(0, k - 1))
    output = draw(st.sampled_from(tier_outputs(types[j])))
    forms = ["dotted", "lowercase", "legacy"] + (["database"] if types[j] != "container" else [])
    return kind, (j, output, draw(st.sampled_from(forms)))


def source(seg: tuple[str, Any]) -> str:
    kind, payload = seg
    if kind == "lit":
        return str(payload)
    if kind == "esc":
        return '{{"' + payload + '"}}'
    if kind == "sys":
        return "{{ .spectro.system." + payload + " }}"
    j, output, form = payload
    return {
        "dotted": f"{{{{.spectro.app.$appDeploymentName.t{j}.{output}}}}}",
        "lowercase": f"{{{{ .spectro.app.$appdeploymentName.t{j}.{output} }}}}",
        "legacy": f"{{{{.spectro.app.$appDepName-t{j}.{output}}}}}",
        "database": f"{{{{.spectro.app.$appDeploymentName.database-t{j}.{output}}}}}",
    }[form]


def expected(segs: list[tuple[str, Any]], k: int, values: list[dict[str, Any]]) -> Any:
    def value(seg: tuple[str, Any]) -> Any:
        kind, payload = seg
        if kind in ("lit", "esc"):
            return payload
        if kind == "sys":
            return system_values(f"t{k}")[payload]
        return values[payload[0]][payload[1]]

    segs = [s for s in segs if s != ("lit", "")]  # "" + one macro is still exactly one macro
    if len(segs) == 1 and segs[0][0] in ("sys", "out"):
        return value(segs[0])
    return "".join(str(value(s)) for s in segs)


@st.composite
def downward_profiles(
    draw: st.DrawFn,
) -> tuple[list[str], list[list[list[tuple[str, Any]]]], list[dict[str, Any]]]:
    n = draw(st.integers(1, 6))
    types = [draw(st.sampled_from(TYPES)) for _ in range(n)]
    envs = [
        draw(st.lists(st.lists(segment(k, types), min_size=1, max_size=4), max_size=3))
        if t == "container"
        else []
        for k, t in enumerate(types)
    ]
    values = [{o: draw(VALUE) for o in tier_outputs(t)} for t in types]
    return types, envs, values


def build(types: list[str], envs: list[list[list[tuple[str, Any]]]]) -> model.Profile:
    tiers: list[dict[str, Any]] = []
    for k, (t, env) in enumerate(zip(types, envs, strict=True)):
        tier: dict[str, Any] = {"name": f"t{k}", "type": t}
        if t == "container":
            entries = [
                {"name": f"E{i}", "value": "".join(source(s) for s in segs)} for i, segs in enumerate(env)
            ]
            tier["properties"] = {"image": "nginx", "env": entries}
        tiers.append(tier)
    return model.from_data({"name": "demo", "tiers": tiers})


@settings(max_examples=100, deadline=None)
@given(case=downward_profiles())
def test_downward_references_resolve_completely(case: Any) -> None:
    types, envs, values = case
    profile = build(types, envs)
    validate.profile(profile, CATALOG)
    for k, tier in enumerate(profile.tiers):
        context = macros.Context(
            profile_name="demo",
            profile_uid="puid",
            profile_version="1.0.0",
            deployment_name=DEPLOYMENT,
            deployment_uid="duid",
            tier_name=tier.name,
            tier_uid=f"uid-{tier.name}",
            tier_params={"NAMESPACE": f"{DEPLOYMENT}-{tier.name}-ns"},
            cluster_name="dev",
            user_name="ann",
            outputs={f"t{j}": values[j] for j in range(k)},
        )
        out = macros.resolve(tier.properties, context, where=f"tier {tier.name}: properties")
        for entry, segs in zip(out.get("env", []), envs[k], strict=True):
            assert entry["value"] == expected(segs, k, values)
            opened = sum(1 for s in segs if s == ("esc", "{{"))
            if isinstance(entry["value"], str):
                assert entry["value"].count("{{") == opened


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 5), data=st.data())
def test_references_to_the_same_or_a_higher_tier_are_refused(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(k, n - 1))
    tiers: list[dict[str, Any]] = [
        {"name": f"t{i}", "type": "container", "properties": {"image": "x"}} for i in range(n)
    ]
    ref = f"{{{{.spectro.app.$appDeploymentName.t{j}.CONTAINER_SVC}}}}"
    tiers[k]["properties"]["env"] = [{"name": "A", "value": f"http://{ref}:80"}]
    with pytest.raises(UserError) as info:
        macros.check(model.from_data({"name": "demo", "tiers": tiers}), CATALOG)
    assert info.value.field == f"tiers.t{k}.properties.env[0].value"
    if j == k:
        assert f"refers to its own tier `t{k}`" in info.value.message
    else:
        assert f"refers to tier `t{j}`, which is above it" in info.value.message
