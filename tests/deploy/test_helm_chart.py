"""The bot's own Helm chart (deploy/helm/appprofile) through the real helm binary.

Every test renders the chart with `helm template` (or `helm lint`, or `helm install --dry-run=client`
for NOTES.txt) in an isolated Helm environment: cache, config, data and plugin folders in a
temporary directory, a kubeconfig that does not exist, no proxy, and only the local chart, so no
test reaches a network. The assertions are on the parsed output.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core import podsecurity, policy
from bot.kube import schema

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "appprofile"
HELM = os.environ.get("HELM_BIN") or str(Path(sys.executable).parent / "helm")
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]

pytestmark = pytest.mark.skipif(
    not Path(HELM).is_file(),
    reason=f"no helm binary at {HELM} (set HELM_BIN, or run `make` once to install it into .venv)",
)

RELEASE = "demo"
NAMESPACE = "chatops"
FULLNAME = "demo-appprofile"
DB = {"database": {"existingSecret": "appprofile-db"}}
SECRET_ENV = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} | {
    "APPPROFILE_SECRET_KEY",
    "APPPROFILE_DATABASE_URL",
}
# What a literal credential looks like: Slack tokens, a URL with a password in it.
TOKEN_RE = re.compile(r"xox[abpre]-|xapp-|://[^/\s:@]+:[^/\s@]+@")
CONFIG = {
    "clusters": {
        "dev-cluster": {"context": "kind-dev"},
        "in-cluster": {"in_cluster": True},
        "prod": {
            "context": "prod-admin",
            "channels": ["C0PROD"],
            "approval": {"required": 1, "approvers": ["U01ALICE", "U02BOB"], "self_approval": False},
        },
    },
    "access": {"deploy": ["*"], "delete": ["S0PLATFORM"]},
}
# The value combinations every structural test runs against.
CASES: dict[str, dict[str, Any]] = {
    "defaults+database": DB,
    "single-replica-sqlite": {"replicaCount": 1},
    "socket-mode": {**DB, "mode": "socket"},
    "ingress": {
        **DB,
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "appprofile.example.org",
            "tls": {"secretName": "appprofile-tls"},
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
        },
    },
    "service-monitor": {
        **DB,
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    },
    "socket-service-monitor": {**DB, "mode": "socket", "metrics": {"serviceMonitor": {"enabled": True}}},
    "in-cluster-rbac": {**DB, "rbac": {"inCluster": {"enabled": True}}},
    "impersonate": {
        **DB,
        "rbac": {"impersonate": {"users": ["appprofile-deployer"], "groups": ["appprofile:deployers"]}},
    },
    "everything": {
        **DB,
        "replicaCount": 3,
        "secretKey": {"existingSecret": "appprofile-key"},
        "kubeconfig": {"existingSecret": "appprofile-kubeconfig", "key": "kubeconfig.yaml"},
        "config": CONFIG,
        "ingress": {"enabled": True, "host": "bot.example.org"},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "rbac": {"inCluster": {"enabled": True}, "impersonate": {"groups": ["deployers"]}},
        "extraEnv": [
            {"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"},
            {"name": "SLACK_API_URL", "valueFrom": {"configMapKeyRef": {"name": "slack", "key": "url"}}},
        ],
        "imagePullSecrets": [{"name": "registry"}],
        "podAnnotations": {"team": "platform"},
    },
}


# ---- running helm ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Helm with nothing of the developer's: its own homes, no kubeconfig, no proxies, no plugins."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_PLUGINS": str(home / "plugins"),
        "HELM_REPOSITORY_CONFIG": str(home / "config" / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "cache" / "repository"),
        "HELM_REGISTRY_CONFIG": str(home / "config" / "registry.json"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
        "NO_PROXY": "*",
    }
    return env


@pytest.fixture(scope="module")
def values_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("values")


_counter: Iterator[int] = iter(range(1_000_000))


def _helm(
    env: dict[str, str], values_dir: Path, args: list[str], values: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    values_file = values_dir / f"values-{next(_counter)}.json"  # JSON is YAML: types stay exact
    values_file.write_text(json.dumps(values))
    return subprocess.run(
        [HELM, *args, "-f", str(values_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def render(helm_env: dict[str, str], values_dir: Path) -> Any:
    """values -> the parsed documents `helm template` prints (it must succeed)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def run(values: dict[str, Any]) -> list[dict[str, Any]]:
        key = json.dumps(values, sort_keys=True)
        if key not in cache:
            done = _helm(helm_env, values_dir, ["template", RELEASE, str(CHART), "-n", NAMESPACE], values)
            assert done.returncode == 0, done.stderr
            cache[key] = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
        return copy.deepcopy(cache[key])

    return run


@pytest.fixture(scope="module")
def render_error(helm_env: dict[str, str], values_dir: Path) -> Any:
    """values -> helm's error output (rendering must fail)."""

    def run(values: dict[str, Any]) -> str:
        done = _helm(helm_env, values_dir, ["template", RELEASE, str(CHART), "-n", NAMESPACE], values)
        assert done.returncode != 0, f"rendering unexpectedly succeeded:\n{done.stdout[:2000]}"
        return done.stderr

    return run


@pytest.fixture(scope="module")
def notes(helm_env: dict[str, str], values_dir: Path) -> Any:
    """values -> the rendered NOTES.txt (an offline `helm install --dry-run=client`)."""

    def run(values: dict[str, Any]) -> str:
        done = _helm(
            helm_env,
            values_dir,
            ["install", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=client"],
            values,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\nNOTES:\n", 1)[1]

    return run


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def _kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _env(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in _container(docs)["env"]}


def _pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(docs, "Deployment")["spec"]["template"]["spec"]


# ---- helm lint and the schemas ---------------------------------------------------------------


def test_helm_lint_strict_passes(helm_env: dict[str, str], values_dir: Path) -> None:
    done = _helm(helm_env, values_dir, ["lint", "--strict", str(CHART)], DB)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "appprofile"
    assert chart["appVersion"] == "0.1.0"
    assert (CHART / "templates" / "NOTES.txt").is_file()
    assert (CHART / "README.md").is_file()
    json.loads((CHART / "values.schema.json").read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_every_object_passes_the_kubernetes_schema(render: Any, case: str) -> None:
    docs = render(CASES[case])
    assert docs
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD kind without a bundled schema: test_service_monitor_scrapes_metrics
        assert schema.problems(doc) == [], f"{doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE


def test_default_objects(render: Any) -> None:
    docs = render(DB)
    assert _kinds(docs) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]
    assert {d["metadata"]["name"] for d in docs} == {FULLNAME, f"{FULLNAME}-config"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"replicaCount": 1.5}, "/replicaCount"),
        ({"mode": "grpc"}, "/mode"),
        ({"replicas": 2}, "replicas"),
        ({"service": {"port": "3000"}}, "/service/port"),
        ({"ingress": {"enabled": "yes"}}, "/ingress/enabled"),
        ({"slack": {"botToken": "xoxb-123"}}, "botToken"),
        ({"extraEnv": [{"name": "SLACK_BOT_TOKEN", "value": "xoxb-123"}]}, "/extraEnv/0/name"),
        ({"extraEnv": [{"name": "X"}]}, "/extraEnv/0"),
        ({"rbac": {"impersonate": {"users": "alice"}}}, "/rbac/impersonate/users"),
        ({"config": {"clusters": {"Prod_1": {}}}}, "Prod_1"),
        ({"metrics": {"serviceMonitor": {"interval": 30}}}, "/metrics/serviceMonitor/interval"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_values_schema_rejects_wrong_values(render_error: Any, values: dict[str, Any], message: str) -> None:
    error = render_error({**DB, **values, "replicaCount": values.get("replicaCount", 1)})
    assert "values don't meet the specifications of the schema" in error or "at '" in error, error
    assert message in error, error


def test_values_schema_rejects_replica_count_two_as_a_string(render_error: Any) -> None:
    error = render_error({**DB, "replicaCount": "two"})
    assert "at '/replicaCount': got string, want integer" in error


# ---- secrets: referenced, never inlined ----------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_chart_renders_no_secret(render: Any, case: str) -> None:
    assert "Secret" not in _kinds(render(CASES[case]))


@pytest.mark.parametrize("case", list(CASES))
def test_env_takes_credentials_only_from_secret_refs(render: Any, case: str) -> None:
    docs = render(CASES[case])
    env = _container(docs)["env"]
    names = [e["name"] for e in env]
    assert len(names) == len(set(names)), names
    for entry in env:
        if entry["name"] in SECRET_ENV:
            assert "value" not in entry, entry["name"]
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] and ref["key"], entry
        elif "value" in entry:
            assert not TOKEN_RE.search(entry["value"]), entry
    for doc in docs:
        assert not TOKEN_RE.search(yaml.safe_dump(doc)), f"{doc['kind']} holds something like a credential"


def test_secret_references_follow_the_values(render: Any) -> None:
    values = {
        "database": {"existingSecret": "pg", "key": "url"},
        "secretKey": {"existingSecret": "key", "key": "k"},
        "slack": {
            "existingSecret": "slack-creds",
            "botTokenKey": "bot",
            "signingSecretKey": "signing",
            "appTokenKey": "app",
        },
    }
    env = _env(render(values))
    refs = {
        name: e["valueFrom"]["secretKeyRef"]
        for name, e in env.items()
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert refs == {
        "SLACK_BOT_TOKEN": {"name": "slack-creds", "key": "bot"},
        "SLACK_SIGNING_SECRET": {"name": "slack-creds", "key": "signing"},
        "APPPROFILE_SECRET_KEY": {"name": "key", "key": "k"},
        "APPPROFILE_DATABASE_URL": {"name": "pg", "key": "url"},
    }
    assert "APPPROFILE_DB" not in env  # PostgreSQL, not SQLite
    socket_env = _env(render({**values, "mode": "socket"}))
    assert socket_env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "slack-creds", "key": "app"}
    assert "SLACK_SIGNING_SECRET" not in socket_env


def test_an_empty_slack_secret_name_fails(render_error: Any) -> None:
    error = render_error({**DB, "slack": {"existingSecret": ""}})
    assert "slack.existingSecret is empty" in error


# ---- replicas, database, disruption budget, spreading ------------------------------------------


def test_two_replicas_without_a_database_fail_with_the_charts_message(render_error: Any) -> None:
    error = render_error({"replicaCount": 2})
    assert "replicaCount is 2 but database.existingSecret is empty" in error
    assert "several replicas cannot share SQLite" in error
    assert "APPPROFILE_DATABASE_URL=postgresql://" in error


def test_default_values_alone_fail_for_want_of_a_database(render_error: Any) -> None:
    assert "database.existingSecret is empty" in render_error({})


@pytest.mark.parametrize("case", list(CASES))
def test_pdb_present_iff_more_than_one_replica(render: Any, case: str) -> None:
    docs = render(CASES[case])
    replicas = _one(docs, "Deployment")["spec"]["replicas"]
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    if replicas > 1:
        assert len(pdbs) == 1
        pdb = pdbs[0]["spec"]
        assert pdb["minAvailable"] == 1
        pod_labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    else:
        assert pdbs == []


def test_replica_count_defaults_to_two(render: Any) -> None:
    assert _one(render(DB), "Deployment")["spec"]["replicas"] == 2


def test_replicas_spread_across_nodes(render: Any) -> None:
    spec = _pod_spec(render(DB))
    labels = {"app.kubernetes.io/name": "appprofile", "app.kubernetes.io/instance": RELEASE}
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["maxSkew"] == 1
    assert spread["labelSelector"]["matchLabels"] == labels
    (term,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == labels
    single = _pod_spec(render({"replicaCount": 1}))
    assert "topologySpreadConstraints" not in single
    assert "affinity" not in single


def test_own_affinity_replaces_the_default_spread(render: Any) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["bots"]}]}
                ]
            }
        }
    }
    spec = _pod_spec(render({**DB, "affinity": affinity}))
    assert spec["affinity"] == affinity


def test_sqlite_without_a_database_lives_on_an_empty_dir(render: Any, notes: Any) -> None:
    docs = render({"replicaCount": 1})
    env = _env(docs)
    assert env["APPPROFILE_DB"]["value"] == "/data/appprofile.db"
    assert "APPPROFILE_DATABASE_URL" not in env
    volumes = {v["name"]: v for v in _pod_spec(docs)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _container(docs)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/data"]]
    text = notes({"replicaCount": 1})
    assert "emptyDir" in text
    assert "LOST when the pod restarts" in text
    assert "PostgreSQL" in text
    assert "LOST" not in notes(DB)


# ---- pod security --------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_pods_meet_the_restricted_pod_security_standard(render: Any, case: str) -> None:
    docs = render(CASES[case])
    spec = _pod_spec(docs)
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001
    assert pod["runAsGroup"] == 10001
    assert pod["fsGroup"] == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(key)
    for container in spec["containers"] + spec.get("initContainers", []):
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True
        assert sc.get("privileged", False) is False
        assert sc.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
        assert all("hostPort" not in p for p in container["ports"])
    allowed = {"configMap", "emptyDir", "secret", "projected", "downwardAPI", "persistentVolumeClaim"}
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= allowed, volume
    # A read-only root needs writable scratch space: /tmp and HOME (/data) on emptyDirs.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in _container(docs)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert "emptyDir" in volumes[mounts["/data"]["name"]]
    assert _env(docs)["HOME"]["value"] == "/data"
    assert spec["enableServiceLinks"] is False
    # And the project's own Pod Security Standards check, the one the guardrails use.
    for doc in docs:
        assert podsecurity.check(doc, "restricted") == [], doc.get("kind")


@pytest.mark.parametrize("case", list(CASES))
def test_resources_are_bounded(render: Any, case: str) -> None:
    resources = _container(render(CASES[case]))["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


# ---- modes, ports, probes, service, ingress -----------------------------------------------------


@pytest.mark.parametrize(("mode", "port_name", "port"), [("http", "http", 3000), ("socket", "health", 8080)])
def test_probes_hit_healthz_on_the_served_port(render: Any, mode: str, port_name: str, port: int) -> None:
    docs = render({**DB, "mode": mode})
    container = _container(docs)
    assert container["ports"] == [{"name": port_name, "containerPort": port, "protocol": "TCP"}]
    assert _env(docs)["PORT"]["value"] == str(port)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port_name}
    service = _one(docs, "Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": port_name, "port": 3000, "targetPort": port_name, "protocol": "TCP"}]
    assert (
        service["selector"].items()
        <= _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )


def test_socket_mode_uses_the_app_token_and_serves_only_health(render: Any) -> None:
    docs = render({**DB, "mode": "socket", "socket": {"healthPort": 9090}})
    env = _env(docs)
    assert env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "appprofile-slack",
        "key": "SLACK_APP_TOKEN",
    }
    assert "SLACK_SIGNING_SECRET" not in env
    assert env["PORT"]["value"] == "9090"
    assert _container(docs)["ports"] == [{"name": "health", "containerPort": 9090, "protocol": "TCP"}]
    assert "Ingress" not in _kinds(docs)


def test_socket_mode_refuses_an_ingress(render_error: Any) -> None:
    error = render_error({**DB, "mode": "socket", "ingress": {"enabled": True}})
    assert "ingress.enabled needs mode: http" in error


def test_http_mode_has_no_app_token(render: Any) -> None:
    env = _env(render(DB))
    assert "SLACK_APP_TOKEN" not in env
    assert env["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "SLACK_SIGNING_SECRET"


def test_ingress_is_off_by_default_and_routes_only_slack_events(render: Any) -> None:
    assert "Ingress" not in _kinds(render(DB))
    ingress = _one(render(CASES["ingress"]), "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["appprofile.example.org"], "secretName": "appprofile-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "appprofile.example.org"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/slack/events"
    assert path["backend"] == {"service": {"name": FULLNAME, "port": {"name": "http"}}}
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    no_tls = _one(render(CASES["everything"]), "Ingress")["spec"]
    assert "tls" not in no_tls
    assert "ingressClassName" not in no_tls


def test_image_tag_defaults_to_the_app_version(render: Any) -> None:
    container = _container(render(DB))
    assert container["image"] == f"appprofile:{APP_VERSION}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["serve"]
    pinned = _container(
        render(
            {**DB, "image": {"repository": "registry.example/bot", "tag": "1.2.3", "pullPolicy": "Always"}}
        )
    )
    assert pinned["image"] == "registry.example/bot:1.2.3"
    assert pinned["imagePullPolicy"] == "Always"


# ---- configuration and kubeconfig -------------------------------------------------------------


def test_config_is_a_read_only_config_map_the_bot_accepts(render: Any) -> None:
    docs = render({**DB, "config": CONFIG})
    config_map = _one(docs, "ConfigMap")
    text = config_map["data"]["appprofile.yaml"]
    assert yaml.safe_load(text) == CONFIG
    loaded = policy.load(text)
    assert loaded.clusters["prod"].channels == ["C0PROD"]
    assert loaded.clusters["in-cluster"].in_cluster is True
    container = _container(docs)
    path = Path(_env(docs)["APPPROFILE_CONFIG"]["value"])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in _pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert path.name in config_map["data"]
    # empty config: still a valid (empty) file
    assert policy.load(_one(render(DB), "ConfigMap")["data"]["appprofile.yaml"]).clusters == {}


def test_a_config_change_rolls_the_pods(render: Any) -> None:
    def checksum(values: dict[str, Any]) -> str:
        annotations = _one(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]
        value = annotations["checksum/config"]
        assert re.fullmatch(r"[0-9a-f]{64}", value)
        return str(value)

    base = checksum({**DB, "config": CONFIG})
    assert checksum({**DB, "config": CONFIG, "logLevel": "DEBUG"}) == base
    changed = copy.deepcopy(CONFIG)
    changed["access"]["delete"] = ["S0OTHERS"]
    assert checksum({**DB, "config": changed}) != base
    assert checksum(DB) != base


def test_kubeconfig_is_mounted_read_only(render: Any) -> None:
    docs = render(CASES["everything"])
    path = Path(_env(docs)["KUBECONFIG"]["value"])
    assert path.name == "kubeconfig.yaml"
    (mount,) = [m for m in _container(docs)["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in _pod_spec(docs)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "appprofile-kubeconfig"
    assert volume["secret"]["items"] == [{"key": "kubeconfig.yaml", "path": "kubeconfig.yaml"}]
    assert "KUBECONFIG" not in _env(render(DB))


# ---- RBAC ------------------------------------------------------------------------------------


def test_by_default_nothing_cluster_wide_and_no_token(render: Any) -> None:
    docs = render(DB)
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & set(_kinds(docs))
    assert _one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    spec = _pod_spec(docs)
    assert spec["serviceAccountName"] == FULLNAME
    assert spec["automountServiceAccountToken"] is False


def test_an_in_cluster_cluster_in_the_config_mounts_the_token(render: Any) -> None:
    assert _pod_spec(render({**DB, "config": CONFIG}))["automountServiceAccountToken"] is True
    explicit = {**DB, "config": CONFIG, "serviceAccount": {"automountToken": False}}
    assert _pod_spec(render(explicit))["automountServiceAccountToken"] is False


def _bound_to_the_bot(docs: list[dict[str, Any]], role: dict[str, Any]) -> None:
    (binding,) = [
        d
        for d in docs
        if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]


def test_impersonation_is_limited_to_the_named_users_and_groups(render: Any) -> None:
    docs = render(CASES["impersonate"])
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    assert role["metadata"]["name"] == f"{FULLNAME}-impersonate"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["users"],
            "verbs": ["impersonate"],
            "resourceNames": ["appprofile-deployer"],
        },
        {
            "apiGroups": [""],
            "resources": ["groups"],
            "verbs": ["impersonate"],
            "resourceNames": ["appprofile:deployers"],
        },
    ]
    _bound_to_the_bot(docs, role)
    assert _pod_spec(docs)["automountServiceAccountToken"] is True
    groups_only = [
        d for d in render(CASES["everything"]) if d["metadata"]["name"] == f"{FULLNAME}-impersonate"
    ]
    (role_groups,) = [d for d in groups_only if d["kind"] == "ClusterRole"]
    assert [r["resources"] for r in role_groups["rules"]] == [["groups"]]


IN_CLUSTER_VERBS = {
    ("", "namespaces"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "services"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "secrets"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "configmaps"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "persistentvolumeclaims"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "serviceaccounts"): ["get", "list", "watch", "create", "patch", "delete"],
    ("apps", "deployments"): ["get", "list", "watch", "create", "patch", "delete"],
    ("apps", "statefulsets"): ["get", "list", "watch", "create", "patch", "delete"],
    ("batch", "jobs"): ["get", "list", "watch", "create", "patch", "delete"],
    ("networking.k8s.io", "ingresses"): ["get", "list", "watch", "create", "patch", "delete"],
    ("", "pods"): ["get", "list", "watch"],
    ("", "pods/log"): ["get"],
    ("", "events"): ["get", "list", "watch"],
    ("storage.k8s.io", "storageclasses"): ["get", "list"],
}


def test_in_cluster_role_grants_exactly_what_the_service_types_need(render: Any) -> None:
    docs = render(CASES["in-cluster-rbac"])
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    assert role["metadata"]["name"] == f"{FULLNAME}-in-cluster"
    granted: dict[tuple[str, str], list[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in granted, (group, resource)
                granted[(group, resource)] = rule["verbs"]
    assert granted == IN_CLUSTER_VERBS
    flat = {verb for verbs in granted.values() for verb in verbs}
    assert not flat & {"*", "escalate", "bind", "impersonate", "update", "deletecollection"}
    _bound_to_the_bot(docs, role)
    assert _pod_spec(docs)["automountServiceAccountToken"] is True


def test_in_cluster_extra_rules_are_appended(render: Any) -> None:
    extra = {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers"],
        "verbs": ["get", "patch"],
    }
    docs = render({**DB, "rbac": {"inCluster": {"enabled": True, "extraRules": [extra]}}})
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    assert role["rules"][-1] == extra
    assert schema.problems(role) == []


def test_rbac_create_false_renders_no_rbac(render: Any) -> None:
    docs = render({**CASES["everything"], "rbac": {"create": False, "inCluster": {"enabled": True}}})
    assert not {"ClusterRole", "ClusterRoleBinding"} & set(_kinds(docs))


def test_an_existing_service_account_is_used_as_is(render: Any, render_error: Any) -> None:
    docs = render({**DB, "serviceAccount": {"create": False, "name": "bot"}})
    assert "ServiceAccount" not in _kinds(docs)
    assert _pod_spec(docs)["serviceAccountName"] == "bot"
    assert "serviceAccount.name is required" in render_error({**DB, "serviceAccount": {"create": False}})


# ---- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "port_name"), [("service-monitor", "http"), ("socket-service-monitor", "health")]
)
def test_service_monitor_scrapes_metrics(render: Any, case: str, port_name: str) -> None:
    docs = render(CASES[case])
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["name"] == FULLNAME
    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", monitor["metadata"]["name"])
    spec = monitor["spec"]
    assert set(spec) == {"namespaceSelector", "selector", "endpoints"}
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    service = _one(docs, "Service")
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = spec["endpoints"]
    assert endpoint == {
        "port": port_name,
        "path": "/metrics",
        "scheme": "http",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    if case == "service-monitor":
        assert monitor["metadata"]["labels"]["release"] == "prom"


def test_no_service_monitor_by_default(render: Any) -> None:
    assert "ServiceMonitor" not in _kinds(render(DB))


# ---- NOTES.txt ---------------------------------------------------------------------------------


def test_notes_name_the_request_url_and_the_secret(notes: Any) -> None:
    text = notes(CASES["ingress"])
    assert "https://appprofile.example.org/slack/events" in text
    assert "create secret generic appprofile-slack" in text
    socket = notes(CASES["socket-mode"])
    assert "Socket Mode" in socket
    assert "SLACK_APP_TOKEN=xapp-..." in socket
