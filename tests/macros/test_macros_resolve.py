"""Resolving macros: every documented form, filters, escapes, types, and what is refused."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from bot.core import macros
from bot.core.errors import UserError
from tests.macros.test_macros_catalog import ctx

SECRET = "hunter2-S3CRET-value"
OUTPUTS: dict[str, dict[str, Any]] = {
    "postgres-db": {
        "USERNAME": "pguser",
        "PASSWORD": SECRET,
        "POSTGRESMSTR_SVC": "shop-postgres-db-svc",
        "POSTGRESMSTR_SVC_PORT": 5432,
        "EMPTY": "",
        "NOTHING": None,
        "FLAG": True,
    },
    "cache": {"REDISMSTR_SVC": "shop-cache-svc", "PADDED": "  Mixed Case  "},
}
CTX = ctx(OUTPUTS)


def r(text: Any, context: macros.Context = CTX) -> Any:
    return macros.resolve(text, context, where="tier api: properties.x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{.spectro.system.appprofile.name}}", "counter-app"),
        ("{{.spectro.system.appprofile.uid}}", "prof-uid-1"),
        ("{{.spectro.system.appprofile.version}}", "1.1.0"),
        ("{{.spectro.system.appdeployment.name}}", "shop"),
        ("{{.spectro.system.appdeployment.uid}}", "dep-uid-2"),
        ("{{.spectro.system.appdeployment.tiername}}", "shop-api"),
        ("{{.spectro.system.apptier.name}}", "api"),
        ("{{.spectro.system.apptier.uid}}", "tier-uid-3"),
        ("{{.spectro.system.apptier.NAMESPACE}}", "shop-api-ns"),
        ("{{.spectro.system.apptier.REGION}}", "eu-west-1"),
        ("{{.spectro.system.cluster.name}}", "dev-cluster"),
        ("{{.spectro.system.user.name}}", "ann"),
        ("{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}", "shop-postgres-db-svc"),
        ("{{.spectro.app.$appdeploymentName.postgres-db.POSTGRESMSTR_SVC}}", "shop-postgres-db-svc"),
        ("{{.spectro.app.$appDepName-postgres-db.USERNAME}}", "pguser"),
        ("{{.spectro.app.$appDeploymentName.database-postgres-db.USERNAME}}", "pguser"),
        ("{{.spectro.app.$appDepName-database-postgres-db.USERNAME}}", "pguser"),
        ("{{ .spectro.system.cluster.name }}", "dev-cluster"),
        ("{{\t.spectro.system.cluster.name\n}}", "dev-cluster"),
        ("{{.spectro.system.appdeployment.tiername}}-svc", "shop-api-svc"),
        ("{{.spectro.system.appdeployment.tiername}}-ns", "shop-api-ns"),
        (
            "postgres://{{.spectro.app.$appDeploymentName.postgres-db.USERNAME}}@"
            "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}:"
            "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT}}/app",
            "postgres://pguser@shop-postgres-db-svc:5432/app",
        ),
        ("no macro at all", "no macro at all"),
        ("", ""),
        ("a lone }} and a { brace", "a lone }} and a { brace"),
    ],
)
def test_documented_forms_resolve(text: str, expected: Any) -> None:
    assert r(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ .spectro.system.user.name | upper }}", "ANN"),
        ("{{ .spectro.app.$appDeploymentName.cache.PADDED | lower }}", "  mixed case  "),
        ("{{ .spectro.app.$appDeploymentName.cache.PADDED | trim }}", "Mixed Case"),
        ("{{ .spectro.app.$appDeploymentName.cache.PADDED | trim | upper | quote }}", '"MIXED CASE"'),
        ("{{ .spectro.system.user.name | quote | upper }}", '"ANN"'),
        ("{{ .spectro.system.user.name | b64enc }}", base64.b64encode(b"ann").decode()),
        ("{{.spectro.system.user.name|upper|b64enc}}", base64.b64encode(b"ANN").decode()),
        ("{{ .spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT | quote }}", '"5432"'),
        ("{{ .spectro.app.$appDeploymentName.postgres-db.FLAG | quote }}", '"true"'),
        ('{{ .spectro.app.$appDeploymentName.postgres-db.EMPTY | default "fallback" }}', "fallback"),
        ('{{ .spectro.app.$appDeploymentName.postgres-db.NOTHING | default "fallback" }}', "fallback"),
        ('{{ .spectro.app.$appDeploymentName.postgres-db.MISSING | default "x|y}}z" }}', "x|y}}z"),
        ('{{ .spectro.app.$appDeploymentName.nowhere.OUT | default "d" | upper }}', "D"),
        ('{{ .spectro.app.$appDeploymentName.postgres-db.USERNAME | default "unused" }}', "pguser"),
        ('{{ .spectro.system.user.name | default "a \\"quoted\\" word" }}', "ann"),
        ('{{ .spectro.app.$appDeploymentName.cache.GONE | default "a \\"q\\"" }}', 'a "q"'),
        ("{{ .spectro.system.user.name | quote }}", '"ann"'),
        ('{{ .spectro.system.user.name |\tdefault\t"x" }}', "ann"),
        ('{{ .spectro.app.$appDeploymentName.cache.GONE | default  "two  spaces" }}', "two  spaces"),
        ("say {{ .spectro.system.user.name | quote }} loudly", 'say "ann" loudly'),
    ],
)
def test_filters_apply_left_to_right(text: str, expected: Any) -> None:
    assert r(text) == expected


def test_quote_escapes_like_go() -> None:
    context = ctx({"t": {"V": 'say "hi"\n'}})
    assert r("{{.spectro.app.$appDeploymentName.t.V | quote}}", context) == '"say \\"hi\\"\\n"'


def test_default_keeps_the_type_of_a_present_value() -> None:
    assert r('{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT | default "1"}}') == 5432


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{"{{"}}', "{{"),
        ('{{"}}"}}', "}}"),
        ('{{ "{{" }}', "{{"),
        ('{{"{{"}} .Values.alert {{"}}"}}', "{{ .Values.alert }}"),
        ('{{"{{"}}{{.spectro.system.user.name}}{{"}}"}}', "{{ann}}"),
        ('{{"{{"}} template "slack.title" . {{"}}"}}', '{{ template "slack.title" . }}'),
    ],
)
def test_escapes_give_literal_braces(text: str, expected: str) -> None:
    assert r(text) == expected


def test_whole_string_macro_keeps_the_value_type() -> None:
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT}}") == 5432
    assert r("{{ .spectro.app.$appDeploymentName.postgres-db.FLAG }}") is True
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.NOTHING}}") is None


def test_mixed_strings_stringify_values() -> None:
    assert r("port {{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT}}") == "port 5432"
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.FLAG}}!") == "true!"
    assert r("[{{.spectro.app.$appDeploymentName.postgres-db.NOTHING}}]") == "[]"
    context = ctx({"t": {"F": 1.5, "L": [1, "a"], "M": {"k": "v"}}})
    assert r("{{.spectro.app.$appDeploymentName.t.F}}s", context) == "1.5s"
    assert r("{{.spectro.app.$appDeploymentName.t.L}}.", context) == '[1, "a"].'
    assert r("{{.spectro.app.$appDeploymentName.t.M}}.", context) == '{"k": "v"}.'
    # Two macros side by side are a mixed string too.
    assert r("{{.spectro.system.user.name}}{{.spectro.system.user.name}}") == "annann"


def test_resolved_values_are_never_rescanned() -> None:
    tricky = "p{{.spectro.system.user.name}}w{{ ''.__class__ }}"
    context = ctx({"postgres-db": {"PASSWORD": tricky}})
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}", context) == tricky
    assert r("x={{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}", context) == f"x={tricky}"
    params = ctx(tier_params={"NAMESPACE": "{{.spectro.system.user.name}}"})
    assert r("{{.spectro.system.apptier.NAMESPACE}}", params) == "{{.spectro.system.user.name}}"


def test_resolve_walks_values_not_keys_and_does_not_mutate() -> None:
    data = {
        "image": "nginx",
        "replicas": 2,
        "public": False,
        "nothing": None,
        "{{.spectro.system.user.name}}": "key stays",
        "env": [
            {"name": "DB_HOST", "value": "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}"},
            {
                "name": "DB_PORT",
                "value": "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC_PORT}}",
            },
        ],
        "tuple": ("{{.spectro.system.user.name}}",),
    }
    before = copy.deepcopy(data)
    out = macros.resolve(data, CTX, where="tier api: properties")
    assert data == before
    assert out == {
        "image": "nginx",
        "replicas": 2,
        "public": False,
        "nothing": None,
        "{{.spectro.system.user.name}}": "key stays",
        "env": [
            {"name": "DB_HOST", "value": "shop-postgres-db-svc"},
            {"name": "DB_PORT", "value": 5432},
        ],
        "tuple": ["ann"],
    }


def test_error_names_the_path_inside_the_value() -> None:
    data = {"env": [{"name": "A", "value": "ok"}, {"name": "B", "value": "{{ .spectro.system.nope }}"}]}
    with pytest.raises(UserError) as info:
        macros.resolve(data, CTX, where="tier api: properties")
    assert info.value.message.startswith("tier api: properties.env[1].value: ")
    assert "`nope`" in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__ }}",
        "{{range .}}",
        "{{ range .spectro.system }}x{{ end }}",
        "{{ .spectro.system.__class__ }}",
        "{{ .spectro.system.cluster.__class__.__mro__ }}",
        "{{ 7*7 }}",
        '{{ .spectro.system.cluster.name | attr "x" }}',
        "{{ .spectro.system.cluster.name | printf }}",
        "{{ .spectro.system.cluster.name | upper() }}",
        "{{ .spectro.system.cluster.name() }}",
        "{{ .spectro.system.cluster.name.upper }}",
        "{{ .foo }}",
        "{{ . }}",
        "{{ .spectro }}",
        "{{ .spectro.system }}",
        "{{ .spectro..system.user.name }}",
        "{{ .spectro.system.user.name. }}",
        "{{ .spectro.macro.mine }}",
        "{{ .spectro.pack.kubernetes.version }}",
        "{{ .spectro.app.$nope.postgres-db.PASSWORD }}",
        "{{ .spectro.app.appDeploymentName.postgres-db.PASSWORD }}",
        "{{ .spectro.app.$appDeploymentName.postgres-db }}",
        "{{ .spectro.app.$appDeploymentName.postgres-db.PASSWORD.extra }}",
        "{{ .spectro.app.$appDepName-.PASSWORD }}",
        "{{ .spectro.app.$appDepName-postgres-db.x.PASSWORD }}",
        "{{ .spectro.system.$appDeploymentName }}",
        "{{ $appDeploymentName }}",
        "{{ $x := 1 }}",
        "{{/* comment */}}",
        "{{- .spectro.system.user.name -}}",
        "{{ .spectro.system.user.name | }}",
        "{{ .spectro.system.user.name | default }}",
        "{{ .spectro.system.user.name | default x }}",
        "{{ .spectro.system.user.name | default 5 }}",
        '{{ .spectro.system.user.name | default "a" "b" }}',
        '{{ .spectro.system.user.name | default "\\q" }}',
        '{{ .spectro.system.user.name | default "\\ud800" }}',
        '{{ .spectro.system.user.name | upper "x" }}',
        "{{ index .spectro 0 }}",
        "{{}}",
        "{{ }}",
        '{{ "abc" }}',
        '{{ "{{" | upper }}',
        "{{ {{.spectro.system.user.name}} }}",
        "open {{ .spectro.system.user.name",
        "{{",
        'quote {{ "}} never closed',
        "{{.spectro.system.apptier.MISSING}}",
        "{{.spectro.system.user.email}}",
    ],
)
def test_everything_else_is_a_user_error(text: str) -> None:
    with pytest.raises(UserError) as info:
        r(text)
    assert info.value.message.startswith("tier api: properties.x")
    assert info.value.hint


def test_missing_tier_lists_the_tiers_below() -> None:
    with pytest.raises(UserError) as info:
        r("{{.spectro.app.$appDeploymentName.postgres.PASSWORD}}")
    assert "tier `postgres`" in info.value.message
    assert info.value.hint is not None
    assert "did you mean `postgres-db`?" in info.value.hint
    assert "cache, postgres-db" in info.value.hint


def test_missing_output_lists_that_tiers_outputs() -> None:
    with pytest.raises(UserError) as info:
        r("{{.spectro.app.$appDeploymentName.postgres-db.PASSWROD}}")
    assert "has not published an output `PASSWROD`" in info.value.message
    assert info.value.hint is not None
    assert "did you mean `PASSWORD`?" in info.value.hint
    assert "POSTGRESMSTR_SVC_PORT" in info.value.hint


def test_unknown_system_variable_suggests_and_lists() -> None:
    with pytest.raises(UserError) as info:
        r("{{.spectro.system.cluster.nmae}}")
    assert "unknown system variable `cluster.nmae`" in info.value.message
    assert info.value.hint is not None
    assert "did you mean `cluster.name`?" in info.value.hint
    assert "apptier.REGION" in info.value.hint
    assert "appdeployment.tiername" in info.value.hint


def test_missing_tier_parameter_says_to_add_it() -> None:
    with pytest.raises(UserError) as info:
        r("{{.spectro.system.apptier.REGON}}")
    assert "parameter `REGON`, which tier api does not define" in info.value.message
    assert info.value.hint is not None
    assert "did you mean `apptier.REGION`?" in info.value.hint


def test_long_macros_are_shortened_in_messages() -> None:
    text = "{{ .spectro.system." + "x" * 500 + " }}"
    with pytest.raises(UserError) as info:
        r(text)
    assert len(info.value.message) < 250


def test_holes_stand_in_for_unknown_outputs_and_fill_with_their_filters() -> None:
    plan = ctx({"postgres-db": {"USERNAME": "pguser"}}, placeholders=True)
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}", plan) == "<<postgres-db.PASSWORD>>"
    assert r("{{.spectro.app.$appDepName-api2.CONTAINER_SVC}}:80", plan) == "<<api2.CONTAINER_SVC>>:80"
    upper = r('{{.spectro.app.$appDeploymentName.web.URL | default "x" | upper}}', plan)
    assert upper == '<<web.URL | default "x" | upper>>'
    assert r("{{.spectro.app.$appDeploymentName.database-postgres-db.PASSWORD}}", plan) == (
        "<<postgres-db.PASSWORD>>"
    )
    assert plan.holes == {
        "<<postgres-db.PASSWORD>>",
        "<<api2.CONTAINER_SVC>>",
        '<<web.URL | default "x" | upper>>',
    }
    # Filled once the tier ran, with the filters applied then (a missing output takes its default).
    match = macros.HOLE.fullmatch(upper)
    assert match is not None
    assert macros.fill_hole(match, {"web": {"URL": "http://a"}}, {}, tier="t", where="w") == "HTTP://A"
    assert macros.fill_hole(match, {"web": {}}, {}, tier="t", where="w") == "X"
    # Known outputs and system variables still resolve; syntax errors are still errors.
    assert r("{{.spectro.app.$appDeploymentName.postgres-db.USERNAME | upper}}", plan) == "PGUSER"
    assert r("{{.spectro.system.user.name}}", plan) == "ann"
    with pytest.raises(UserError):
        r("{{ .spectro.system.nope }}", plan)


def test_database_prefix_prefers_a_tier_literally_so_named() -> None:
    context = ctx({"database-pg": {"V": "literal"}, "pg": {"V": "stripped"}})
    assert r("{{.spectro.app.$appDeploymentName.database-pg.V}}", context) == "literal"
    assert r("{{.spectro.app.$appDeploymentName.pg.V}}", context) == "stripped"


@pytest.mark.parametrize(
    "text",
    [
        "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}} {{.spectro.system.nope}}",
        "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD | b64enc}}"
        "{{.spectro.app.$appDeploymentName.x.Y}}",
        "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}{{.spectro.app.$appDeploymentName.postgres-db.PASS}}",
        "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}} {{ 7*7 }}",
        "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}} {{",
    ],
)
def test_secret_values_never_appear_in_errors(text: str) -> None:
    data = {"a": "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}", "b": text}
    with pytest.raises(UserError) as info:
        macros.resolve(data, CTX, where="tier api: properties")
    shown = str(info.value) + repr(info.value.args)
    assert SECRET not in shown
    assert base64.b64encode(SECRET.encode()).decode() not in shown


def test_references_parse_every_macro_in_order() -> None:
    data = {
        "env": [
            "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}",
            'x {{"{{"}} {{ .spectro.system.apptier.NAMESPACE | upper }}',
        ],
        "legacy": "{{.spectro.app.$appDepName-database-mongo.MONGO_URI}}",
        "{{.spectro.system.user.name}}": 3,
    }
    refs = macros.references(data)
    assert [(x.kind, x.tier, x.output, x.variable) for x in refs] == [
        ("output", "postgres-db", "PASSWORD", ""),
        ("system", None, None, "apptier.NAMESPACE"),
        ("output", "database-mongo", "MONGO_URI", ""),
    ]
    assert refs[1].raw == "{{ .spectro.system.apptier.NAMESPACE | upper }}"
    assert refs[1].path == "spectro.system.apptier.NAMESPACE"
    assert refs[2].path == "spectro.app.$appDepName-database-mongo.MONGO_URI"
    assert refs[2].tier_in(["mongo", "api"]) == "mongo"
    assert refs[2].tier_in(["api"]) is None
    assert refs[1].tier_in(["api"]) is None
    assert macros.references(42) == []


def test_references_reject_bad_syntax_naming_where() -> None:
    with pytest.raises(UserError, match=r"^helm values\.a: "):
        macros.references({"a": "{{ nope }}"}, where="helm values")
