"""The in-repo chart through the real helm binary, and helm failures as UserErrors."""

from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest

from bot import catalog_files
from bot.core import render
from bot.core.errors import UserError
from bot.kube import helm
from tests import helm as helm_tool

HELM = helm_tool.HELM or "helm"
pytestmark = helm_tool.needs_helm

CTX = render.RenderContext(
    deployment="shop", tier="web", namespace="shop-web-ns", profile="shop", profile_version="1.1.0"
)


def test_web_chart_renders_valid_labelled_objects() -> None:
    values = {
        "apiUrl": "http://shop-api-svc.shop-api-ns.svc.cluster.local:3000",
        "replicas": 2,
        "env": {"REDIS_HOST": "r.example", "WEIRD": "{{ 7*7 }}"},
    }
    text = helm.template(
        "web", release=CTX.fullname, namespace=CTX.namespace, version=None, values=values, helm_bin=HELM
    )
    objs = render.helm_objects(text, CTX)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objs) == [
        ("ConfigMap", "shop-web-web"),
        ("Deployment", "shop-web-web"),
        ("Service", "shop-web-web"),
    ]
    for o in objs:
        kubernetes_validate.validate(o, "1.35.0", strict=True)
        assert o["metadata"]["namespace"] == "shop-web-ns"
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "appprofile"
        assert labels["appprofile.dev/deployment"] == "shop"
        assert labels["appprofile.dev/tier"] == "web"
        assert labels["appprofile.dev/profile-version"] == "1.1.0"
    cm = next(o for o in objs if o["kind"] == "ConfigMap")
    assert cm["data"] == {"API_URL": values["apiUrl"], "REDIS_HOST": "r.example", "WEIRD": "{{ 7*7 }}"}
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]
    for k, v in deploy["spec"]["selector"]["matchLabels"].items():
        assert pod["metadata"]["labels"][k] == v
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]
    assert container["livenessProbe"]
    assert container["resources"]["limits"]


def test_web_chart_by_absolute_path_and_defaults() -> None:
    path = str(catalog_files.charts_dir() / "web")
    # A relative helm path works although helm runs inside its own temporary home.
    text = helm.template(
        path,
        release="demo",
        namespace="ns1",
        version=None,
        values={},
        helm_bin=os.path.relpath(HELM),
        allowed=[path],  # a path on the bot's host only when the cluster's chart policy lists it
    )
    assert "name: demo-web" in text


@pytest.mark.parametrize("chart", ["no-such-chart", "../services", "/nonexistent/chart"])
def test_missing_or_escaping_chart_is_a_user_error(chart: str) -> None:
    with pytest.raises(UserError) as err:
        helm.template(chart, release="demo", namespace="ns1", version=None, values={}, helm_bin=HELM)
    assert chart in err.value.message


def test_broken_chart_gives_helm_message_without_values(tmp_path: Path) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"
        '  s: {{ .Values.secret | quote }}\n  bad: {{ fail (printf "leak %s" .Values.secret) }}\n'
    )
    with pytest.raises(UserError) as err:
        helm.template(
            str(chart),
            release="demo",
            namespace="ns1",
            version=None,
            values={"secret": "hunter2-topsecret"},
            helm_bin=HELM,
            allowed=[str(tmp_path / "*")],
        )
    assert "helm could not render chart" in err.value.message
    assert "hunter2-topsecret" not in str(err.value)


def test_release_name_too_long_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        helm.template("web", release="r" * 54, namespace="ns1", version=None, values={}, helm_bin=HELM)
    assert "at most 53" in err.value.message
    assert err.value.hint is not None
    assert "releaseName" in err.value.hint


def test_timeout_is_a_user_error(tmp_path: Path) -> None:
    slow = tmp_path / "slow-helm"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(UserError, match="did not finish"):
        helm.template(
            "web", release="demo", namespace="ns1", version=None, values={}, helm_bin=str(slow), timeout=0.5
        )
