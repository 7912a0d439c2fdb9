"""Save-time checks of macro references: direction, names, and the messages people see."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.core import macros, model
from bot.core.errors import UserError
from tests.macros.test_macros_catalog import CATALOG, DESIGN_PROFILE


def profile(*tiers: dict[str, Any]) -> model.Profile:
    return model.from_data({"name": "demo", "tiers": list(tiers)})


def api(*env_values: str, **extra: Any) -> dict[str, Any]:
    env = [{"name": f"V{i}", "value": v} for i, v in enumerate(env_values)]
    return {"name": "api", "type": "container", "properties": {"image": "nginx", "env": env}, **extra}


PG = {"name": "postgres-db", "type": "postgresql"}
WEB = {
    "name": "web",
    "type": "helm",
    "properties": {"chart": "oci://x/web"},
    "outputs": [{"name": "WEB_SVC", "service": {"name": "web"}}],
}


def fails(p: model.Profile) -> UserError:
    with pytest.raises(UserError) as info:
        macros.check(p, CATALOG)
    return info.value


def test_design_example_passes() -> None:
    macros.check(model.from_yaml(DESIGN_PROFILE), CATALOG)


def test_all_reference_forms_pass() -> None:
    macros.check(
        profile(
            PG,
            {"name": "my", "type": "mysql"},
            api(
                "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}",
                '{{ .spectro.app.$appdeploymentName.postgres-db.USERNAME | default "u" | upper }}',
                "{{.spectro.app.$appDepName-postgres-db.POSTGRESMSTR_SVC}}",
                "{{.spectro.app.$appDeploymentName.database-postgres-db.POSTGRESMSTR_SVC_PORT}}",
                "{{.spectro.app.$appDepName-database-my.MYSQLMSTR_NS}}",
                "{{.spectro.system.apptier.NAMESPACE}}/{{.spectro.system.apptier.ZONE}}",
                '{{"{{"}} not a macro {{"}}"}}',
                "{{.spectro.system.appprofile.version}}{{.spectro.system.user.name}}",
                parameters={"ZONE": "a", "NAMESPACE": "{{.spectro.system.appdeployment.tiername}}-x"},
            ),
        ),
        CATALOG,
    )


def test_upward_reference_names_tier_field_and_fix() -> None:
    err = fails(profile(PG, api("{{.spectro.app.$appDeploymentName.web.WEB_SVC}}"), WEB))
    assert err.message == (
        "tier api: properties.env[0].value refers to tier `web`, which is above it; outputs flow upward "
        "only — move `web` below `api` or drop the reference"
    )
    assert err.field == "tiers.api.properties.env[0].value"
    assert err.hint == "available tiers below api: postgres-db"


def test_self_reference_is_refused() -> None:
    err = fails(profile(PG, api("ok", "{{.spectro.app.$appDeploymentName.api.CONTAINER_SVC}}")))
    assert err.message.startswith("tier api: properties.env[1].value refers to its own tier `api`")
    assert err.field == "tiers.api.properties.env[1].value"


def test_unknown_tier_suggests_and_lists_the_tiers_below() -> None:
    err = fails(
        profile(
            PG,
            {"name": "cache", "type": "mysql"},
            api("{{.spectro.app.$appDeploymentName.postgres.USERNAME}}"),
        )
    )
    assert err.message == (
        "tier api: properties.env[0].value refers to tier `postgres`, which is not in this profile"
    )
    assert err.hint == "did you mean `postgres-db`? available tiers below api: cache, postgres-db"
    assert err.field == "tiers.api.properties.env[0].value"


def test_unknown_output_suggests_and_lists_that_tiers_outputs() -> None:
    err = fails(profile(PG, api("{{.spectro.app.$appDeploymentName.postgres-db.POSTGRES_SVC}}")))
    assert err.message == (
        "tier api: properties.env[0].value refers to output `POSTGRES_SVC`, which tier postgres-db "
        "(postgresql) does not publish"
    )
    assert err.hint == (
        "did you mean `POSTGRESMSTR_SVC`? available outputs of postgres-db: "
        "PASSWORD, POSTGRESMSTR_SVC, POSTGRESMSTR_SVC_PORT, USERNAME"
    )


def test_helm_tier_publishes_only_what_it_declares() -> None:
    upper = api("{{.spectro.app.$appDeploymentName.web.WEB_URL}}")
    err = fails(profile(WEB, upper))
    assert "does not publish (declare it under the tier's `outputs:`)" in err.message
    assert err.hint == "available outputs of web: WEB_SVC"
    macros.check(profile(WEB, api("{{.spectro.app.$appDeploymentName.web.WEB_SVC}}")), CATALOG)


def test_unknown_system_variable_suggests_and_lists() -> None:
    err = fails(profile(api("{{ .spectro.system.appdeployment.tier_name }}")))
    assert err.message == (
        "tier api: properties.env[0].value: `{{ .spectro.system.appdeployment.tier_name }}` names an "
        "unknown system variable `appdeployment.tier_name`"
    )
    assert err.hint is not None
    assert err.hint.startswith("did you mean `appdeployment.tiername`? available system variables: ")
    assert "apptier.NAMESPACE" in err.hint
    assert "cluster.name" in err.hint
    assert err.field == "tiers.api.properties.env[0].value"


def test_apptier_parameter_must_be_declared() -> None:
    err = fails(profile(api("{{.spectro.system.apptier.REGION}}", parameters={"ZONE": "a"})))
    assert "uses parameter `REGION`, which tier api does not define" in err.message
    assert err.hint is not None
    assert "add `REGION` to the tier's `parameters`" in err.hint
    assert "apptier.ZONE" in err.hint
    # NAMESPACE always exists (it has a default).
    macros.check(profile(api("{{.spectro.system.apptier.NAMESPACE}}")), CATALOG)


def test_parameters_cannot_read_parameters() -> None:
    tier = api("x", parameters={"ZONE": "a", "NAMESPACE": "{{.spectro.system.apptier.ZONE}}-ns"})
    err = fails(profile(tier))
    assert err.message.startswith("tier api: parameters.NAMESPACE: ")
    assert err.field == "tiers.api.parameters.NAMESPACE"


def test_parameters_references_are_checked_too() -> None:
    tier = api("x", parameters={"HOST": "{{.spectro.app.$appDeploymentName.db.POSTGRESMSTR_SVC}}"})
    err = fails(profile(PG, tier))
    assert err.message.startswith("tier api: parameters.HOST refers to tier `db`")


def test_database_prefix_only_before_database_tiers() -> None:
    err = fails(
        profile(
            {"name": "backend", "type": "container", "properties": {"image": "x"}},
            api("{{.spectro.app.$appDeploymentName.database-backend.CONTAINER_SVC}}"),
        )
    )
    assert "refers to tier `database-backend`, which is not in this profile" in err.message
    assert err.hint is not None
    assert "did you mean `backend`?" in err.hint


def test_a_tier_literally_named_database_x_wins() -> None:
    named = {"name": "database-pg", "type": "container", "properties": {"image": "x"}}
    pg = {"name": "pg", "type": "postgresql"}
    ok = api("{{.spectro.app.$appDeploymentName.database-pg.CONTAINER_SVC}}")
    macros.check(profile(pg, named, ok), CATALOG)
    err = fails(profile(pg, named, api("{{.spectro.app.$appDeploymentName.database-pg.PASSWORD}}")))
    assert "which tier database-pg (container) does not publish" in err.message


def test_syntax_errors_carry_tier_and_field() -> None:
    err = fails(profile(api("ok", "ok", '{{ .spectro.system.user.name | attr "x" }}')))
    assert err.message.startswith("tier api: properties.env[2].value: ")
    assert err.field == "tiers.api.properties.env[2].value"


def test_macros_in_keys_are_refused() -> None:
    tier = {
        "name": "web",
        "type": "helm",
        "properties": {"chart": "c", "values": {"{{.spectro.system.user.name}}": 1}},
    }
    err = fails(profile(tier))
    assert err.message.startswith("tier web: properties.values: the key `{{.spectro.system.user.name}}`")
    assert err.field == "tiers.web.properties.values"


def manifest_tier(*contents: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "extras",
        "type": "manifest",
        "manifests": [{"name": f"m{i}", "content": c} for i, c in enumerate(contents)],
        **extra,
    }


def doc(**string_data: str) -> str:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "stringData": string_data,
    }
    return yaml.safe_dump(obj)


def test_manifest_documents_are_walked_as_parsed_yaml() -> None:
    good = doc(p="{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}")
    macros.check(profile(PG, manifest_tier(good)), CATALOG)
    bad = doc(p="{{.spectro.app.$appDeploymentName.postgres-db.PASSWORDS}}")
    err = fails(profile(PG, manifest_tier(good, good + "---\n" + bad)))
    assert err.message.startswith("tier extras: manifests.m1[1].stringData.p refers to output `PASSWORDS`")
    assert err.field == "tiers.extras.manifests.m1[1].stringData.p"


def test_manifest_yaml_error_names_tier_and_manifest() -> None:
    content = (
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: x, namespace: {{.spectro.system.apptier.NAMESPACE}}}\n"
    )
    err = fails(profile(manifest_tier(content)))
    assert err.message.startswith("tier extras: manifest `m0` is not valid YAML at line 3")
    assert err.hint is not None
    assert "quote values that hold macros" in err.hint
    assert err.field == "tiers.extras.manifests.m0"


def test_manifest_with_impossible_date_is_a_user_error() -> None:
    err = fails(profile(manifest_tier("when: 2024-13-45\n")))
    assert err.message == (
        "tier extras: manifest `m0` is not valid YAML: a value could not be read (month must be in 1..12)"
    )
    assert err.field == "tiers.extras.manifests.m0"


def test_manifest_nested_too_deep_is_a_user_error() -> None:
    err = fails(profile(manifest_tier("[" * 5000 + "]" * 5000)))
    assert err.message == "tier extras: manifest `m0`: the YAML is too deeply nested (more than 100 levels)"


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"name": "A", "value": "{{.spectro.app.$appDeploymentName.nope.X}}"}, "outputs.A.value"),
        (
            {"name": "B", "service": {"name": "{{.spectro.app.$appDeploymentName.nope.X}}"}},
            "outputs.B.service.name",
        ),
        (
            {"name": "C", "secret": {"name": "{{.spectro.app.$appDeploymentName.nope.X}}", "key": "k"}},
            "outputs.C.secret.name",
        ),
    ],
)
def test_output_declarations_are_checked(output: dict[str, Any], field: str) -> None:
    tier = {"name": "web", "type": "helm", "properties": {"chart": "c"}, "outputs": [output]}
    err = fails(profile(PG, tier))
    assert err.message.startswith(f"tier web: {field} refers to tier `nope`")
    assert err.field == f"tiers.web.{field}"


def test_output_value_may_read_tiers_below() -> None:
    out = {
        "name": "URL",
        "value": "postgres://{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}",
    }
    macros.check(
        profile(PG, {"name": "web", "type": "helm", "properties": {"chart": "c"}, "outputs": [out]}), CATALOG
    )
