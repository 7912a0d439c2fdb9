"""Rendering treats people's text as data; manifests and chart output get namespaces and labels."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import catalog_files
from bot.core import render
from bot.core.errors import UserError

CAT = catalog_files.load()


def ctx(props: dict[str, Any] | None = None, **kw: Any) -> render.RenderContext:
    base: dict[str, Any] = {
        "deployment": "shop",
        "tier": "api",
        "namespace": "shop-api-ns",
        "profile": "shop",
        "profile_version": "2.0.0",
        "properties": props or {},
    }
    return render.RenderContext(**{**base, **kw})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(json_values)
def test_quote_round_trips_any_value_through_yaml(value: Any) -> None:
    assert yaml.safe_load(f"key: {render.quote(value)}\nnext: 1\n") == {"key": value, "next": 1}


@settings(max_examples=200)
@given(st.text())
def test_any_env_value_arrives_literally_in_the_deployment(value: str) -> None:
    props = {"image": "nginx", "env": [{"name": "X", "value": value}, {"name": "Y", "value": "after"}]}
    objs = render.service_objects(CAT.get("container"), ctx(props))
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "X", "value": value}, {"name": "Y", "value": "after"}]


HOSTILE = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    '": \n- evil: 1',
    "x\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: pwned}",
    "'; quote \" and \\ backslash",
    "\u2028line\u0085sep\x00nul\ufeff",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_data_in_every_string_property(hostile: str) -> None:
    props = {
        "image": "nginx",
        "env": [{"name": "E", "value": hostile}],
        "command": [hostile],
        "args": [hostile, "--x"],
    }
    objs = render.service_objects(CAT.get("container"), ctx(props))
    assert [o["kind"] for o in objs] == ["Deployment", "Service"]
    c = next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert c["env"] == [{"name": "E", "value": hostile}]
    assert c["command"] == [hostile]
    assert c["args"] == [hostile, "--x"]
    assert "49" not in yaml.safe_dump(c["env"])  # 7*7 never evaluated


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_in_database_params_and_secrets_stays_literal(hostile: str) -> None:
    c = ctx({"databaseName": "app"}, secrets={"password": hostile})
    objs = render.service_objects(CAT.get("postgresql"), c)
    secret = next(o for o in objs if o["kind"] == "Secret")
    assert secret["stringData"]["password"] == hostile
    assert len(objs) == 4
    s3 = {"bucket": "b-1", "accessKeyId": hostile, "secretAccessKey": hostile}
    (obj,) = render.service_objects(CAT.get("s3"), ctx(s3))
    assert obj["stringData"]["AWS_ACCESS_KEY_ID"] == hostile


def test_hostile_text_in_output_values_is_not_evaluated() -> None:
    c = ctx(
        {
            "bucket": "b-1",
            "accessKeyId": "a",
            "secretAccessKey": "s",
            "endpoint": "https://{{7*7}}/{% if 1 %}",
        }
    )
    assert render.output_values(CAT.get("s3"), c)["S3_ENDPOINT"] == "https://{{7*7}}/{% if 1 %}"


def test_labels_are_the_design_set() -> None:
    assert render.labels(ctx()) == {
        "app.kubernetes.io/managed-by": "appprofile",
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/instance": "shop",
        "appprofile.dev/deployment": "shop",
        "appprofile.dev/tier": "api",
        "appprofile.dev/profile-version": "2.0.0",
    }


def test_pod_templates_leave_out_the_profile_version() -> None:
    # A version bump alone must not roll pods, and a Job's template is immutable.
    objs = render.service_objects(CAT.get("container"), ctx({"image": "nginx"}))
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    assert "appprofile.dev/profile-version" not in deploy["spec"]["template"]["metadata"]["labels"]
    assert deploy["metadata"]["labels"]["appprofile.dev/profile-version"] == "2.0.0"


def test_statefulset_claim_templates_carry_stable_labels() -> None:
    objs = render.service_objects(CAT.get("redis"), ctx(secrets={"password": "pw"}))
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
    assert claim["appprofile.dev/deployment"] == "shop"
    assert "appprofile.dev/profile-version" not in claim


# --- manifests ----------------------------------------------------------------------------------

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"
SECRET_ELSEWHERE = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: other}\nstringData: {p: x}\n"
DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: w, labels: {app.kubernetes.io/name: mine}}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: mine}}
  template:
    metadata: {labels: {app.kubernetes.io/name: mine}}
    spec: {containers: [{name: c, image: nginx}]}
"""


def test_manifest_objects_get_a_namespace_and_labels() -> None:
    objs = render.manifest_objects([CM + "---\n" + SECRET_ELSEWHERE, DEPLOY], ctx())
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objs] == [
        ("ConfigMap", "shop-api-ns"),
        ("Secret", "other"),
        ("Deployment", "shop-api-ns"),
    ]
    for o in objs:
        kubernetes_validate.validate(o, "1.35.0", strict=True)
        assert o["metadata"]["labels"]["appprofile.dev/tier"] == "api"
        assert o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "appprofile"
    deploy = objs[2]
    # The manifest's own selector labels are kept, so the Deployment still selects its pods.
    assert deploy["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "mine"
    assert deploy["spec"]["template"]["metadata"]["labels"]["appprofile.dev/deployment"] == "shop"


@pytest.mark.parametrize(
    "kind",
    [
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PersistentVolume",
    ],
)
def test_manifest_renders_cluster_scoped_kinds_for_the_guardrails_to_judge(kind: str) -> None:
    # Which kinds are cluster-scoped only the cluster knows: rendering gives every object the
    # tier's namespace, the plan drops it where discovery says cluster-scoped, and the guardrails
    # refuse or allow the kind (tests/core/test_guardrails.py).
    doc = f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: x}}\n"
    objs = render.manifest_objects([CM, CM + "---\n" + doc], ctx())
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objs] == [
        ("ConfigMap", "shop-api-ns"),
        ("ConfigMap", "shop-api-ns"),
        (kind, "shop-api-ns"),
    ]
    assert objs[2]["metadata"]["labels"]["appprofile.dev/tier"] == "api"


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "is a list"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "needs apiVersion"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "needs apiVersion, kind and metadata.name"),
    ],
)
def test_manifest_errors_name_tier_and_document(doc: str, fragment: str) -> None:
    with pytest.raises(UserError) as err:
        render.manifest_objects([doc], ctx())
    assert err.value.message.startswith("tier api: manifest #1")
    assert fragment in err.value.message


def test_helm_objects_get_the_tier_namespace_and_labels() -> None:
    text = (
        "---\n# Source: x/templates/cm.yaml\n"
        + CM
        + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n"
        + "---\napiVersion: v1\nkind: List\nitems:\n- "
        + CM.replace("\n", "\n  ").replace("name: a", "name: b")
    )
    objs = render.helm_objects(text, ctx())
    assert [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs] == [
        ("ConfigMap", "a", "shop-api-ns"),
        # Namespaced like everything else here; the plan drops it for cluster-scoped kinds.
        ("ClusterRole", "r", "shop-api-ns"),
        ("ConfigMap", "b", "shop-api-ns"),
    ]
    assert all(o["metadata"]["labels"]["appprofile.dev/profile-version"] == "2.0.0" for o in objs)


def test_secret_names_lists_secret_params() -> None:
    assert render.secret_names(CAT.get("s3")) == ["accessKeyId", "secretAccessKey"]
    assert render.secret_names(CAT.get("postgresql")) == ["password"]
    assert render.secret_names(CAT.get("container")) == []
