"""Planning refuses objects that are not valid Kubernetes, before anything is applied."""

from __future__ import annotations

from typing import Any

import pytest

from bot import catalog_files
from bot.core import model, plan
from bot.core.errors import UserError
from bot.kube import schema

CATALOG = catalog_files.load()
TARGET = plan.Target(cluster="dev", deployment="shop")


def manifest_profile(content: str) -> model.Profile:
    return model.from_data(
        {
            "name": "m",
            "tiers": [
                {
                    "name": "extras",
                    "type": "manifest",
                    "parameters": {"NAMESPACE": "x-ns"},
                    "manifests": [{"name": "one", "content": content}],
                },
            ],
        }
    )


def no_charts(*a: Any) -> str:
    raise AssertionError


def test_an_invalid_object_is_refused_with_its_field() -> None:
    bad = manifest_profile(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec: {replicas: two, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
        "spec: {containers: [{name: c, image: nginx}]}}}\n"
    )
    with pytest.raises(UserError) as err:
        plan.build(bad, CATALOG, TARGET, charts=no_charts, check=schema.problems)
    assert "tier extras: Deployment x-ns/web is not a valid Kubernetes object" in err.value.message
    assert "spec.replicas" in err.value.message


def test_a_secret_problem_does_not_echo_the_value() -> None:
    bad = manifest_profile(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: 123456789}\n"
    )
    with pytest.raises(UserError) as err:
        plan.build(bad, CATALOG, TARGET, charts=no_charts, check=schema.problems)
    assert "stringData.password" in err.value.message
    assert "123456789" not in str(err.value)


def test_custom_resources_pass_and_valid_examples_plan() -> None:
    cr = manifest_profile("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n")
    plan.build(cr, CATALOG, TARGET, charts=no_charts, check=schema.problems)
    assert schema.problems({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}) == []


def test_the_cached_validators_agree_with_kubernetes_validate() -> None:
    import kubernetes_validate

    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": "x"}]},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [],
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"bogus": 1}},
    ]
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, schema.KUBERNETES_VERSION, strict=True)
            reference_ok = True
        except kubernetes_validate.ValidationError:
            reference_ok = False
        assert (schema.problems(obj) == []) == reference_ok, obj
