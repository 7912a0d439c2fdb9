"""No Kubernetes call hangs: a silent API server becomes a `ClusterError` after bounded retries.

The silent server is a raw TCP listener on loopback that accepts connections and never answers
(optionally forwarding discovery GETs to the emulator first, so one later call is what stalls).
"""

from __future__ import annotations

import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest
from kubernetes import client as k8s_client

from bot.core.ports import ClusterError, ObjectRef
from bot.kube.cluster import KubeCluster
from sandbox.kube import SimCluster

NS = "shop-api-ns"
# Discovery paths: /version, /api, /apis, /api/v1 and /apis/<group>/<version>, nothing deeper.
_DISCOVERY = re.compile(r"/(version|api|apis|api/v1|apis/[^/?]+/[^/?]+)")


class SilentServer:
    """Accepts connections and holds every request unanswered, except those `forward` selects,
    which are answered with the `upstream` server's response."""

    def __init__(self, upstream: str | None = None, forward: Callable[[str, str], bool] | None = None):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._upstream = upstream
        self._forward = forward or (lambda method, path: False)
        self.held: list[str] = []  # "METHOD path" of each request left unanswered
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._conns:
            conn.close()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(0.05)
            self._conns.append(conn)
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        """Serve forwarded requests on this keep-alive connection until one is held (or EOF)."""
        buf = b""
        while not self._stop.is_set():
            if b"\r\n\r\n" not in buf:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buf += chunk
                continue
            head, _, buf = buf.partition(b"\r\n\r\n")
            method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if self._upstream is None or not self._forward(method, path):
                self.held.append(f"{method} {path}")
                return  # never answered; the connection stays open until the client gives up
            try:
                with urllib.request.urlopen(self._upstream + path, timeout=5) as resp:
                    status, body = resp.status, resp.read()
            except urllib.error.HTTPError as e:
                with e:
                    status, body = e.code, e.read()
            conn.sendall(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )


def failure_of(call: Callable[[], object], bound: float = 60) -> BaseException | None:
    """Run `call` in a thread; what it raised. Fails (rather than hangs) if it is still blocked
    after `bound` seconds; leaving the SilentServer then drops its connections and frees it."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # handed to the test thread
            raised.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(bound)
    if worker.is_alive():
        pytest.fail(f"the call was still blocked after {bound:g}s: no timeout reached it")
    return raised[0] if raised else None


def cluster_at(url: str, tmp_path: Path) -> KubeCluster:
    config = k8s_client.Configuration()
    config.host = url
    config.retries = 0  # as `bot.kube.connect` builds it: KubeCluster alone retries
    return KubeCluster(
        "stuck",
        k8s_client.ApiClient(config),
        request_timeout=(0.5, 0.5),
        retries=1,
        backoff=0.01,
        # A private cache: the default one in the temp dir is keyed by URL and may hold discovery
        # from an earlier emulator on the same port, which would skip the discovery under test.
        discovery_cache=str(tmp_path / "discovery.json"),
    )


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def test_discovery_times_out(silent: SilentServer, tmp_path: Path) -> None:
    kube = cluster_at(silent.url, tmp_path)
    err = failure_of(lambda: kube.ensure_namespace("team-a", {}))
    assert isinstance(err, ClusterError), err
    assert err.message == (
        "cluster stuck: discover APIs: the API server did not answer within 0.5 s; gave up after 2 attempts"
    )
    assert err.hint is not None
    assert "readyz" in err.hint
    assert silent.held == ["GET /version", "GET /version"]


def _discovery_only(method: str, path: str) -> bool:
    return method == "GET" and _DISCOVERY.fullmatch(path) is not None


CALLS: dict[str, tuple[Callable[[KubeCluster], object], str, str]] = {
    "apply": (
        lambda k: k.ensure_namespace("team-a", {}),
        "patch namespaces",
        "PATCH /api/v1/namespaces/team-a",
    ),
    "get": (lambda k: k.read_service(NS, "api"), f"get services in `{NS}`", f"GET /api/v1/namespaces/{NS}"),
    "list": (lambda k: k.list_owned("shop"), "list deployments", "GET /apis/apps/v1/deployments"),
    "delete": (
        lambda k: k.delete(ObjectRef(api_version="v1", kind="ConfigMap", name="cfg", namespace=NS)),
        f"delete configmaps in `{NS}`",
        f"DELETE /api/v1/namespaces/{NS}/configmaps/cfg",
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_call_after_discovery_times_out(sim: SimCluster, tmp_path: Path, call: str) -> None:
    run, what, held = CALLS[call]
    with SilentServer(upstream=sim.url, forward=_discovery_only) as server:
        kube = cluster_at(server.url, tmp_path)
        err = failure_of(lambda: run(kube))
    assert isinstance(err, ClusterError), err
    assert err.message == (
        f"cluster stuck: {what}: the API server did not answer within 0.5 s; gave up after 2 attempts"
    )
    assert len(server.held) == 2
    assert all(h.startswith(held) for h in server.held), server.held
    assert sim.get("Namespace", None, "team-a") is None


def test_refused_connection_is_not_called_a_timeout(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed again below: nothing listens there
    kube = cluster_at(f"http://127.0.0.1:{port}", tmp_path)
    with pytest.raises(ClusterError) as err:
        kube.ensure_namespace("team-a", {})
    assert "kept failing" in err.value.message
    assert "did not" not in err.value.message
