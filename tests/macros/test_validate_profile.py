"""validate.profile: properties against the catalogue, manifest namespaces, then macro references."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core import model, validate
from bot.core.catalog import Catalog
from bot.core.errors import InvalidProfile, UserError
from tests.macros.test_macros_catalog import CATALOG, DESIGN_PROFILE


def profile(*tiers: dict[str, Any]) -> model.Profile:
    return model.from_data({"name": "demo", "tiers": list(tiers)})


def manifest_tier(*contents: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "extras",
        "type": "manifest",
        "manifests": [{"name": f"m{i}", "content": c} for i, c in enumerate(contents)],
        **extra,
    }


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg%s}\ndata: {a: b}\n"
CM_NS = (
    "apiVersion: v1\nkind: ConfigMap\n"
    'metadata: {name: cfg, namespace: "{{.spectro.system.apptier.NAMESPACE}}"}\n'
)


def fails(p: model.Profile, catalog: Catalog = CATALOG) -> UserError:
    with pytest.raises(UserError) as info:
        validate.profile(p, catalog)
    return info.value


def test_design_example_is_valid() -> None:
    validate.profile(model.from_yaml(DESIGN_PROFILE), CATALOG)


def test_properties_are_checked_against_the_type() -> None:
    err = fails(profile({"name": "api", "type": "container", "properties": {"image": "x", "replicas": 11}}))
    assert err.message == "tier api (container): properties.replicas is 11; the largest allowed is 10"
    err = fails(profile({"name": "api", "type": "container", "properties": {"image": "x", "replica": 2}}))
    assert err.message == "tier api (container): properties.replica is not a container property"
    assert err.hint is not None
    assert "did you mean `replicas`?" in err.hint
    err = fails(profile({"name": "api", "type": "container"}))
    assert err.message == "tier api (container): properties.image is required"


def test_a_type_missing_from_the_catalogue_names_the_tier() -> None:
    partial = Catalog(services={"container": CATALOG.services["container"]})
    with pytest.raises(InvalidProfile) as info:
        validate.profile(profile({"name": "db", "type": "postgresql"}), partial)
    assert info.value.message == "tier db: there is no service type `postgresql`"
    assert info.value.field == "tiers.db.type"


def test_manifest_objects_need_a_namespace() -> None:
    err = fails(profile(manifest_tier(CM % "")))
    assert err.message == "tier extras: manifest `m0` ConfigMap cfg names no namespace"
    assert err.hint is not None
    assert "parameters: {NAMESPACE: ...}" in err.hint
    assert err.field == "tiers.extras.manifests.m0"


def test_every_document_is_checked_and_named() -> None:
    err = fails(profile(manifest_tier(CM_NS, CM_NS + "---\n" + CM % "2")))
    assert err.message == "tier extras: manifest `m1`, document 2, ConfigMap cfg2 names no namespace"


def test_namespace_from_the_object_or_from_parameters() -> None:
    validate.profile(profile(manifest_tier(CM_NS, CM_NS + "---\n" + CM_NS)), CATALOG)
    with_param = manifest_tier(
        CM % "", CM % "2", parameters={"NAMESPACE": "{{.spectro.system.apptier.name}}-ns"}
    )
    validate.profile(profile(with_param), CATALOG)
    blank_param = manifest_tier(CM % "", parameters={"NAMESPACE": "  "})
    assert "names no namespace" in fails(profile(blank_param)).message
    blank_ns = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ''}\n"
    assert "names no namespace" in fails(profile(manifest_tier(blank_ns))).message


def test_objects_without_metadata_are_reported() -> None:
    err = fails(profile(manifest_tier("apiVersion: v1\nkind: ConfigMap\n")))
    assert err.message == "tier extras: manifest `m0` ConfigMap names no namespace"


@pytest.mark.parametrize("content", ["- a\n- b\n", "just text\n", "42\n"])
def test_a_document_must_be_an_object(content: str) -> None:
    err = fails(profile(manifest_tier(content)))
    assert err.message.startswith("tier extras: manifest `m0` is not a Kubernetes object")


def test_an_empty_manifest_is_refused() -> None:
    err = fails(profile(manifest_tier("---\n# nothing\n---\n")))
    assert err.message == "tier extras: manifest `m0` holds no Kubernetes object"


def test_manifest_yaml_errors_name_tier_and_manifest() -> None:
    err = fails(profile(manifest_tier(CM_NS, "kind: [unclosed\n")))
    assert err.message.startswith("tier extras: manifest `m1` is not valid YAML")


def test_macro_references_are_reported_after_property_problems() -> None:
    tiers = [
        {
            "name": "api",
            "type": "container",
            "properties": {"image": "{{.spectro.app.$appDeploymentName.db.X}}"},
        },
        {"name": "db", "type": "postgresql"},
    ]
    err = fails(profile(*tiers))
    assert "refers to tier `db`, which is above it" in err.message
    # Both come back; a property problem in a later tier is listed before any macro problem.
    tiers[1] = {"name": "db", "type": "postgresql", "properties": {"volumeSize": 0}}
    err = fails(profile(*tiers))
    assert isinstance(err, InvalidProfile)
    assert [p.field for p in err.problems] == ["tiers.db.properties.volumeSize", "tiers.api.properties.image"]
    assert err.message.startswith(
        "the profile has 2 problems:\n1. tier db (postgresql): properties.volumeSize is 0"
    )
