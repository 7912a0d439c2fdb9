"""Guardrails in the plan: every escalation a profile could try is refused, all at once, each with
the rule and the config key that would open it; the defaults let every example profile through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import catalog_files
from bot.core import guardrails, model, plan, policy
from bot.kube import kinds

CATALOG = catalog_files.load()
EXAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "examples"
TARGET = plan.Target(cluster="dev-cluster", deployment="shop")


def absent(_ns: str) -> guardrails.Ownership:
    return guardrails.Ownership(exists=False)


def guard(**rails: Any) -> plan.Guard:
    return plan.Guard(rails=policy.Guardrails(**rails), scope=kinds.scope, owner=absent)


def manifest_profile(*docs: str, parameters: dict[str, str] | None = None) -> model.Profile:
    tier: dict[str, Any] = {
        "name": "extras",
        "type": "manifest",
        "manifests": [{"name": f"m{i}", "content": d} for i, d in enumerate(docs)],
    }
    if parameters:
        tier["parameters"] = parameters
    return model.from_data({"name": "shop", "tiers": [tier]})


def violations(profile: model.Profile, g: plan.Guard) -> list[guardrails.Violation]:
    with pytest.raises(guardrails.PolicyViolations) as err:
        plan.build(profile, CATALOG, TARGET, charts=lambda *a: "", guard=g)
    return err.value.violations


CRB = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: take-over}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: shop-extras-ns}]
"""
ROLEBINDING_KUBE_SYSTEM = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: admin, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: shop-extras-ns}]
"""
SA_TOKEN = """
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata: {name: steal, annotations: {kubernetes.io/service-account.name: default}}
"""
CSR = """
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: me, namespace: dummy}
spec: {request: aGk=, signerName: kubernetes.io/kube-apiserver-client, usages: [client auth]}
"""
CUSTOM = """
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
"""


def test_every_escalation_is_listed_at_once_with_its_rule_and_key() -> None:
    found = violations(manifest_profile(CRB, ROLEBINDING_KUBE_SYSTEM, SA_TOKEN, CSR, CUSTOM), guard())
    by_rule = {(v.rule, v.ref) for v in found}
    assert ("cluster_scoped", "ClusterRoleBinding take-over") in by_rule
    assert ("reserved namespaces", "RoleBinding kube-system/admin") in by_rule
    assert ("forbidden_kinds", "RoleBinding kube-system/admin") in by_rule
    assert ("forbidden_kinds", "Secret shop-extras-ns/steal") in by_rule
    # Scope comes from the API surface, not the object: the dummy namespace is dropped.
    assert ("cluster_scoped", "CertificateSigningRequest me") in by_rule
    assert ("served kinds", "Widget shop-extras-ns/w") in by_rule
    keys = {v.rule: v.allow for v in found}
    assert keys["cluster_scoped"] == "clusters.dev-cluster.guardrails.cluster_scoped"
    assert keys["reserved namespaces"] is None and keys["served kinds"] is None
    message = guardrails.PolicyViolations("dev-cluster", found).message
    assert "nothing was applied" in message and "the cluster does not serve Widget" in message


def test_a_tier_namespace_outside_the_deployment_is_refused() -> None:
    profile = model.from_data(
        {
            "name": "shop",
            "tiers": [
                {
                    "name": "api",
                    "type": "container",
                    "parameters": {"NAMESPACE": "kube-system"},
                    "properties": {"image": "ghcr.io/acme/api:1"},
                }
            ],
        }
    )
    found = violations(profile, guard())
    assert [(v.ref, v.rule) for v in found if v.ref.startswith("namespace")] == [
        ("namespace kube-system", "reserved namespaces")
    ]
    other = profile.model_copy(
        update={"tiers": [profile.tiers[0].model_copy(update={"parameters": {"NAMESPACE": "billing"}})]}
    )
    assert [v.rule for v in violations(other, guard())] == ["namespaces"]


def test_namespaces_of_other_deployments_and_unmanaged_ones_are_refused() -> None:
    profile = manifest_profile("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")

    def taken(ns: str) -> guardrails.Ownership:
        return guardrails.Ownership(exists=True, managed=True, deployment="billing")

    def foreign(ns: str) -> guardrails.Ownership:
        return guardrails.Ownership(exists=True)

    g = guard().model_copy(update={"owner": taken})
    assert "belongs to deployment billing" in violations(profile, g)[0].message
    g = guard().model_copy(update={"owner": foreign})
    assert "never adopts it" in violations(profile, g)[0].message
    # A platform team's own namespace, opened by a glob: written into (and never labelled).
    opened = plan.Guard(rails=policy.Guardrails(namespaces=["shop-*"]), scope=kinds.scope, owner=foreign)
    plan.build(profile, CATALOG, TARGET, charts=lambda *a: "", guard=opened)


def test_what_the_config_opens_is_allowed() -> None:
    cr = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
    profile = manifest_profile(
        cr, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []\n"
    )
    p = plan.build(
        profile,
        CATALOG,
        TARGET,
        charts=lambda *a: "",
        guard=guard(cluster_scoped=["ClusterRole"], forbidden_kinds=[]),
    )
    cluster_role = next(o for t in p.tiers for o in t.objects if o["kind"] == "ClusterRole")
    assert "namespace" not in cluster_role["metadata"]
    assert p.sensitive.cluster_scoped == ["extras: ClusterRole reader"]
    assert sorted(p.sensitive.rbac) == ["extras: ClusterRole reader", "extras: Role shop-extras-ns/r"]


def test_images_are_checked_on_every_container() -> None:
    profile = model.from_data(
        {
            "name": "shop",
            "tiers": [{"name": "api", "type": "container", "properties": {"image": "evil.io/x:1"}}],
        }
    )
    found = violations(profile, guard(images=["ghcr.io/acme/*"]))
    assert [(v.rule, v.allow) for v in found] == [("images", "clusters.dev-cluster.guardrails.images")]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_profile_passes_the_defaults(path: Path) -> None:
    profile = model.from_yaml(path.read_text())
    charts = _chart_renderer() if any(t.type == "helm" for t in profile.tiers) else (lambda *a: "")
    p = plan.build(
        profile, CATALOG, TARGET.model_copy(update={"deployment": profile.name}), charts=charts, guard=guard()
    )
    assert p.tiers


def _chart_renderer() -> plan.ChartRenderer:
    from bot import compose
    from bot.settings import ClusterSettings
    from tests.helm import HELM

    if HELM is None:
        pytest.skip("no helm binary for the helm example")
    return compose.chart_renderer(ClusterSettings(helm_bin=HELM))
