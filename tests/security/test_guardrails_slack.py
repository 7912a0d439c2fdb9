"""Every escalation of the guardrails issue, tried through signed Slack requests into the real
`appprofile serve` process, with the real kubernetes client against the emulator: each is refused
with a message naming the rule, and nothing reaches the cluster."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack
from tests.e2e.bot_process import SECRET, BotProcess
from tests.helm import HELM, needs_helm
from tests.rig import SlackDriver

pytestmark = pytest.mark.slow
DEPLOYER = "U0DEPLOYER"
CHANNEL = "C0TEAM"


def config(charts: str = "") -> str:
    lab = f"\n  lab:\n    context: dev\n    guardrails: {{charts: [{charts}]}}" if charts else ""
    return (
        "clusters:\n  dev-cluster:\n    context: dev"
        + lab
        + f'\naccess:\n  create: ["{DEPLOYER}"]\n  deploy: ["{DEPLOYER}"]\n'
    )


EVIL_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: evil\nversion: 0.1.0\n",
    "templates/crb.yaml": (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: evil-admin}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
        "subjects: [{kind: ServiceAccount, name: default, namespace: {{ .Release.Namespace }}}]\n"
    ),
    "templates/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: evil-ns}\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil, namespace: kube-system}\n",
}


class ChartServer:
    """A chart archive over plain http on a loopback port, recording every request."""

    def __init__(self, root: Path) -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a: object, **kw: object) -> None:
                super().__init__(*a, directory=str(root), **kw)  # type: ignore[arg-type]

            def log_message(self, format: str, *args: object) -> None:
                outer.paths.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def chart_server(tmp_path: Path) -> Iterator[ChartServer]:
    if HELM is None:
        pytest.skip("no helm binary to package the chart")
    src = tmp_path / "evil"
    for name, text in EVIL_CHART.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    out = tmp_path / "served"
    out.mkdir()
    env = {
        "HELM_CACHE_HOME": str(tmp_path / "h"),
        "HELM_CONFIG_HOME": str(tmp_path / "h"),
        "HELM_DATA_HOME": str(tmp_path / "h"),
        "HOME": str(tmp_path),
    }
    subprocess.run(
        [HELM, "package", str(src), "-d", str(out)], check=True, capture_output=True, env=env, timeout=60
    )
    server = ChartServer(out)
    yield server
    server.stop()


@pytest.fixture
def world(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[SlackDriver, SimCluster, FakeSlack]]:
    fake = FakeSlack().start()
    cluster = SimCluster(controllers=True, ready_after=0.1).start()
    charts = getattr(request, "param", "")
    bot = BotProcess(tmp_path, fake, {"dev": cluster}, config(charts))
    try:
        bot.start()
        yield SlackDriver.over_http(bot.url, fake, secret=SECRET), cluster, fake
    finally:
        bot.stop()
        cluster.stop()
        fake.stop()


def deploy_refused(driver: SlackDriver, profile: str, cluster: str = "dev-cluster") -> str:
    """Create `profile` and deploy it as the deployer; return the refusal shown to them."""
    name = next(line.split(":", 1)[1].strip() for line in profile.splitlines() if line.startswith("name:"))
    created = driver.command(f"create ```{profile}```", user=DEPLOYER, channel=CHANNEL)
    driver.posted(created, f"{name}@1.0.0", 20)
    reply = driver.answer(
        driver.command(f"deploy {name} to {cluster}", user=DEPLOYER, channel=CHANNEL), "", 30
    )
    text = json.dumps(reply.params, ensure_ascii=False)
    assert "nothing was applied" in text, text
    return text


def manifest(name: str, *docs: str) -> str:
    body = "".join(
        f"      - name: m{i}\n        content: |\n"
        + "".join(f"          {line}\n" for line in d.strip().splitlines())
        for i, d in enumerate(docs)
    )
    return f"name: {name}\ntiers:\n  - name: x\n    type: manifest\n    parameters: {{NAMESPACE: {name}-x-ns}}\n    manifests:\n{body}"


def applied(cluster: SimCluster) -> list[str]:
    return [
        f"{r.method} {r.url.path}"
        for r in cluster.requests
        if str(r.method).upper().endswith(("PATCH", "POST", "PUT"))
    ]


@needs_helm
def test_a_chart_from_a_loopback_url_is_never_fetched_by_default(
    world: tuple[SlackDriver, SimCluster, FakeSlack], chart_server: ChartServer
) -> None:
    driver, cluster, _ = world
    profile = f"name: grab\ntiers:\n  - name: web\n    type: helm\n    properties: {{chart: '{chart_server.url}/evil-0.1.0.tgz'}}\n"
    created = driver.command(f"create ```{profile}```", user=DEPLOYER, channel=CHANNEL)
    driver.posted(created, "grab@1.0.0", 20)
    reply = driver.answer(
        driver.command("deploy grab to dev-cluster", user=DEPLOYER, channel=CHANNEL), "", 30
    )
    text = json.dumps(reply.params, ensure_ascii=False)
    assert "only https:// and oci://" in text and "guardrails.charts" in text
    assert chart_server.paths == []  # no SSRF: the bot never asked the loopback server
    assert applied(cluster) == []


@needs_helm
@pytest.mark.parametrize("world", ["'http://127.0.0.1:*'"], indirect=True)
def test_an_allowed_chart_still_cannot_bind_cluster_admin(
    world: tuple[SlackDriver, SimCluster, FakeSlack], chart_server: ChartServer
) -> None:
    driver, cluster, _ = world
    profile = f"name: grab\ntiers:\n  - name: web\n    type: helm\n    properties: {{chart: '{chart_server.url}/evil-0.1.0.tgz'}}\n"
    text = deploy_refused(driver, profile, cluster="lab")
    assert "ClusterRoleBinding evil-admin" in text and "clusters.lab.guardrails.cluster_scoped" in text
    assert "Namespace evil-ns" in text
    assert "ConfigMap kube-system/evil" in text and "reserved namespaces" in text
    assert chart_server.paths  # fetched, because the policy lists it
    assert cluster.get("ClusterRoleBinding", None, "evil-admin") is None
    assert applied(cluster) == []


def test_manifest_escalations_are_refused_together(world: tuple[SlackDriver, SimCluster, FakeSlack]) -> None:
    driver, cluster, _ = world
    rolebinding = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: admin, namespace: kube-system}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
        "subjects: [{kind: ServiceAccount, name: default, namespace: grab-x-ns}]"
    )
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: root}\nspec:\n  hostPID: true\n  containers:\n"
        "  - {name: c, image: busybox, securityContext: {privileged: true}, volumeMounts: [{name: host, mountPath: /host}]}\n"
        "  volumes: [{name: host, hostPath: {path: /}}]"
    )
    token = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\n"
        "metadata: {name: steal, annotations: {kubernetes.io/service-account.name: default}}"
    )
    csr = (
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: me, namespace: dummy}\n"
        "spec: {request: aGk=, signerName: kubernetes.io/kube-apiserver-client, usages: [client auth]}"
    )
    text = deploy_refused(driver, manifest("grab", rolebinding, pod, token, csr))
    for needle in (
        "RoleBinding kube-system/admin",
        "forbidden_kinds",
        "reserved namespaces",
        "Pod grab-x-ns/root",
        "pod_security baseline",
        "Secret grab-x-ns/steal",
        "CertificateSigningRequest me",
        "cluster_scoped",
    ):
        assert needle in text, needle
    assert applied(cluster) == []


def test_a_tier_namespace_of_kube_system_is_refused_and_never_labelled(
    world: tuple[SlackDriver, SimCluster, FakeSlack],
) -> None:
    driver, cluster, _ = world
    profile = (
        "name: grab\ntiers:\n  - name: api\n    type: container\n    parameters: {NAMESPACE: kube-system}\n"
        "    properties: {image: 'ghcr.io/acme/api:1'}\n"
    )
    text = deploy_refused(driver, profile)
    assert "namespace kube-system" in text and "reserved namespaces" in text
    ns = cluster.get("Namespace", None, "kube-system")
    assert ns is not None and "appprofile.dev/deployment" not in (ns["metadata"].get("labels") or {})
    assert applied(cluster) == []


def test_a_crd_defined_cluster_scoped_kind_is_refused(
    world: tuple[SlackDriver, SimCluster, FakeSlack],
) -> None:
    driver, cluster, _ = world
    cluster.put(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "tenants.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "tenants", "singular": "tenant", "kind": "Tenant"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": {"type": "object"}},
                    }
                ],
            },
        }
    )
    text = deploy_refused(
        driver, manifest("grab", "apiVersion: example.com/v1\nkind: Tenant\nmetadata: {name: t}")
    )
    assert "Tenant t" in text and "cluster_scoped" in text
    unknown = deploy_refused(
        driver, manifest("grab2", "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}")
    )
    assert "the cluster does not serve Gadget" in unknown
