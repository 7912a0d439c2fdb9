"""The Kubernetes adapter's boundary: every library failure, provoked for real, leaves as one of
the error tree's classes (bot.core.errors), never as a `kubernetes`, `urllib3` or `subprocess`
exception — and with a message that names no library class.

The failures come from the emulator on loopback (statuses, Retry-After, dropped connections), a
closed loopback port (refused), a listener that never answers (timeout), TLS spoken to a plain
HTTP server, kubeconfig files that are missing, malformed or lack the context, and helm binaries
that are missing, not executable or fail.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from bot.core.errors import (
    AppError,
    ClusterError,
    OperatorError,
    PermanentClusterError,
    PermanentDeployError,
    TemporaryClusterError,
    TemporaryDeployError,
    UserError,
)
from bot.core.ports import ObjectRef
from bot.kube import connect, helm, kinds, schema
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster
from tests import boundaries
from tests.boundaries import failure_of

NS = "edge-ns"
LIBRARY_NAMES = (
    "ApiException",
    "MaxRetryError",
    "ProtocolError",
    "NewConnectionError",
    "ReadTimeoutError",
    "ConfigException",
    "CalledProcessError",
    "TimeoutExpired",
    "FileNotFoundError",
    "Traceback",
)


def in_tree(exc: BaseException, cls: type[AppError]) -> Any:
    return boundaries.in_tree(exc, cls, unnamed=LIBRARY_NAMES)


def deployment(name: str = "api") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "nginx:1"}]},
            },
        },
    }


@pytest.fixture
def ns(kube: KubeCluster) -> str:
    kube.ensure_namespace(NS, {})
    return NS


def cluster_at(url: str, tmp_path: Path, **kw: Any) -> KubeCluster:
    config = k8s_client.Configuration()
    config.host = url
    config.retries = 0  # as bot.kube.connect builds it: KubeCluster alone retries
    options: dict[str, Any] = {"retries": 1, "backoff": 0.01, "request_timeout": (0.5, 0.5)}
    return KubeCluster(
        "edge", k8s_client.ApiClient(config), discovery_cache=str(tmp_path / "d.json"), **(options | kw)
    )


# -- API answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"), [(400, "failed (400)"), (401, "credentials"), (403, "forbidden")]
)
def test_a_refusal_is_a_permanent_cluster_error(
    sim: SimCluster, kube: KubeCluster, ns: str, status: int, words: str
) -> None:
    sim.fail_next("PATCH", r"/deployments/api", status)
    err = in_tree(failure_of(lambda: kube.apply(deployment())), PermanentClusterError)
    assert isinstance(err, PermanentDeployError)
    assert err.status == status
    assert err.permanent
    assert words in err.message


def test_an_invalid_object_is_permanent_and_a_conflict_temporary(
    sim: SimCluster, kube: KubeCluster, ns: str
) -> None:
    sim.fail_next("PATCH", r"/deployments/api", 422)
    assert in_tree(failure_of(lambda: kube.apply(deployment())), PermanentClusterError).status == 422
    sim.fail_next("PATCH", r"/deployments/api", 409)
    conflict = in_tree(failure_of(lambda: kube.apply(deployment())), TemporaryClusterError)
    assert conflict.status == 409


@pytest.mark.parametrize(("status", "retry_after"), [(429, "2"), (503, "1"), (500, None)])
def test_a_busy_server_is_temporary_with_its_retry_after(
    sim: SimCluster, kube: KubeCluster, ns: str, status: int, retry_after: str | None
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else None
    sim.fail_next("PATCH", r"/deployments/api", status, times=100, headers=headers)
    err = in_tree(failure_of(lambda: kube.apply(deployment())), TemporaryClusterError)
    assert isinstance(err, TemporaryDeployError)
    assert isinstance(err, ClusterError)
    assert err.status == status
    assert err.retry_after == (float(retry_after) if retry_after else None)
    assert f"kept failing (HTTP {status})" in err.message


def test_a_dropped_connection_is_temporary(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    sim.fail_next("PATCH", r"/deployments/api", 0, times=100)
    err = in_tree(failure_of(lambda: kube.apply(deployment())), TemporaryClusterError)
    assert "connection dropped" in err.message


def test_a_missing_namespace_and_an_unserved_kind_are_permanent(kube: KubeCluster) -> None:
    gone = in_tree(failure_of(lambda: kube.apply(deployment())), PermanentClusterError)
    assert gone.status == 404
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": NS}}
    in_tree(failure_of(lambda: kube.apply(widget)), PermanentClusterError)


class _Busy(BaseHTTPRequestHandler):
    """Answers everything 503 with Retry-After: 1 (the emulator never fails discovery)."""

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def busy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """Reads each request and closes the connection without a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_busy_discovery_is_temporary_with_its_retry_after(busy: str, tmp_path: Path) -> None:
    kube = cluster_at(busy, tmp_path)
    err = in_tree(failure_of(lambda: kube.ensure_namespace("x", {})), TemporaryClusterError)
    assert "discover APIs kept failing (HTTP 503)" in err.message
    assert (err.status, err.retry_after) == (503, 1.0)


def test_a_discovery_hung_up_on_is_temporary(hangs_up: str, tmp_path: Path) -> None:
    # The client's discovery turns this into a ValueError about https://; it must not get out.
    kube = cluster_at(hangs_up, tmp_path)
    err = in_tree(failure_of(lambda: kube.ensure_namespace("x", {})), TemporaryClusterError)
    assert "connection dropped" in err.message
    assert "https" not in err.message


def test_a_forbidden_watch_is_permanent(sim: SimCluster, kube: KubeCluster, ns: str) -> None:
    kube.apply(deployment())
    sim.fail_next("GET", r"/deployments\?.*watch=(true|1)", 403, times=100)
    ref = ObjectRef(api_version="apps/v1", kind="Deployment", name="api", namespace=NS)
    err = in_tree(failure_of(lambda: kube.wait_ready(ref, timeout=5)), PermanentClusterError)
    assert err.status == 403
    assert "watch" in (err.hint or "")


# -- the network ----------------------------------------------------------------------------------


def test_a_refused_connection_is_temporary(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed again: nothing listens there
    kube = cluster_at(f"http://127.0.0.1:{port}", tmp_path)
    err = in_tree(failure_of(lambda: kube.read_service(NS, "api")), TemporaryClusterError)
    assert "connection refused" in err.message
    assert err.status is None


@pytest.fixture
def mute() -> Iterator[str]:
    """A listener whose backlog takes the connection and which never reads or answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as s:
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_server_that_never_answers_is_a_temporary_timeout(mute: str, tmp_path: Path) -> None:
    kube = cluster_at(mute, tmp_path)
    err = in_tree(failure_of(lambda: kube.ensure_namespace("x", {})), TemporaryClusterError)
    assert "did not answer within 0.5 s" in err.message


def test_tls_to_a_plain_http_server_is_permanent(sim: SimCluster, tmp_path: Path) -> None:
    kube = cluster_at(sim.url.replace("http://", "https://"), tmp_path, retries=3)
    err = in_tree(failure_of(lambda: kube.ensure_namespace("x", {})), PermanentClusterError)
    assert "TLS" in err.message


# -- kubeconfig -------------------------------------------------------------------------------------


def kubeconfig(path: Path, server: str, **cluster: Any) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "bot", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "kind-dev", "context": {"cluster": "sim", "user": "bot"}}],
        "current-context": "kind-dev",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_kubeconfig_without_the_context_is_an_operator_error(tmp_path: Path) -> None:
    cfg = kubeconfig(tmp_path / "config", "http://127.0.0.1:1")
    err = in_tree(failure_of(lambda: connect.from_kubeconfig("prod", "prod-admin", str(cfg))), OperatorError)
    assert "no context `prod-admin`" in err.message
    assert "not-a-real-token" not in str(err)


@pytest.mark.parametrize(
    "content",
    [None, "", "contexts: 5\n", "- just\n- a list\n", "{not: [yaml\n"],
    ids=["missing", "empty", "contexts-not-a-list", "a-list", "broken-yaml"],
)
def test_an_unreadable_kubeconfig_is_an_operator_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "config"
    if content is not None:
        path.write_text(content)
    err = in_tree(failure_of(lambda: connect.from_kubeconfig("dev", "kind-dev", str(path))), OperatorError)
    assert "kubeconfig" in err.message


def test_a_context_with_a_missing_certificate_is_an_operator_error(tmp_path: Path) -> None:
    cfg = kubeconfig(
        tmp_path / "config", "https://127.0.0.1:1", **{"certificate-authority": str(tmp_path / "no-ca.crt")}
    )
    err = in_tree(failure_of(lambda: connect.from_kubeconfig("dev", "kind-dev", str(cfg))), OperatorError)
    assert "unusable" in err.message


def test_in_cluster_outside_a_pod_is_an_operator_error() -> None:
    err = in_tree(failure_of(lambda: connect.from_in_cluster("dev")), OperatorError)
    assert "not running inside a Kubernetes pod" in err.message


# -- helm ----------------------------------------------------------------------------------------


@pytest.fixture
def chart(tmp_path: Path) -> str:
    path = tmp_path / "chart"
    (path / "templates").mkdir(parents=True)
    (path / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    return str(path)


def render(chart: str, helm_bin: str, **kw: Any) -> str:
    return helm.template(
        chart,
        release="demo",
        namespace="ns1",
        version=None,
        values={"password": "hunter2-topsecret"},
        helm_bin=helm_bin,
        allowed=[chart],
        **kw,
    )


def script(path: Path, body: str, mode: int = 0o755) -> str:
    path.write_text(body)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize("where", ["a-path", "a-name-on-path"])
def test_a_missing_helm_binary_is_an_operator_error(chart: str, tmp_path: Path, where: str) -> None:
    helm_bin = str(tmp_path / "no-helm") if where == "a-path" else "appprofile-no-such-helm"
    err = in_tree(failure_of(lambda: render(chart, helm_bin)), OperatorError)
    assert "helm binary not found" in err.message
    assert "HELM_BIN" in (err.hint or "")


@pytest.mark.parametrize(("body", "mode"), [("#!/bin/sh\nexit 0\n", 0o644), ("\x7fELF-not-really", 0o755)])
def test_a_helm_that_cannot_run_is_an_operator_error(
    chart: str, tmp_path: Path, body: str, mode: int
) -> None:
    helm_bin = script(tmp_path / "helm", body, mode)
    err = in_tree(failure_of(lambda: render(chart, helm_bin)), OperatorError)
    assert "cannot run helm" in err.message


def test_a_chart_that_fails_to_render_is_a_user_error(chart: str, tmp_path: Path) -> None:
    helm_bin = script(tmp_path / "helm", "#!/bin/sh\necho 'Error: bad value hunter2-topsecret' >&2\nexit 1\n")
    err = in_tree(failure_of(lambda: render(chart, helm_bin)), UserError)
    assert "helm could not render chart" in err.message
    assert "hunter2-topsecret" not in str(err)


def test_a_helm_that_hangs_is_a_user_error(chart: str, tmp_path: Path) -> None:
    helm_bin = script(tmp_path / "helm", "#!/bin/sh\nexec sleep 5\n")
    err = in_tree(failure_of(lambda: render(chart, helm_bin, timeout=0.3)), UserError)
    assert "did not finish" in err.message


# -- the client's and kubernetes-validate's own files ----------------------------------------------


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    for cached in (kinds.builtin, schema._definitions, schema._validator):
        cached.cache_clear()
    yield
    for cached in (kinds.builtin, schema._definitions, schema._validator):
        cached.cache_clear()


@pytest.mark.usefixtures("fresh_caches")
def test_a_client_without_its_api_modules_is_an_operator_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(kinds, "_API_DIR", tmp_path)
    in_tree(failure_of(kinds.builtin), OperatorError)


@pytest.mark.usefixtures("fresh_caches")
def test_missing_bundled_schemas_are_an_operator_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "_DIR", "kubernetes-json-schema/v0.0.1-local-strict")
    monkeypatch.setattr(schema, "KUBERNETES_VERSION", "0.0.1")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    in_tree(failure_of(functools.partial(schema.problems, obj)), OperatorError)
