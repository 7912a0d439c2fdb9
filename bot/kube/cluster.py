"""`KubeCluster`: the `bot.core.ports.Cluster` port over the official `kubernetes` client.

Writes are server-side apply through `DynamicClient.server_side_apply` (the typed
`patch_*(_content_type=...)` path is not portable across client versions). Waiting is
watch-driven: a watch on the single object (its first event is the current state) in windows no
longer than the pod check interval; while the workload is not ready its pods are listed on each
event and at each window's end, so a pod that needs a person fails the wait within seconds.
Every other request, discovery included, carries a (connect, read) timeout, so a hung API server
turns into a `ClusterError` after bounded retries instead of blocking a deploy thread forever.
Nothing the client raises gets out: an answer not worth repeating (4xx but 409/429, TLS) is a
`PermanentClusterError`, one worth repeating (409, 429, 5xx, refused, dropped, timed out) a
`TemporaryClusterError` with the server's Retry-After; credentials that cannot be loaded are an
`OperatorError`.
Discovery is looked up once per (apiVersion, kind) per cluster and kept for the process.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import math
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import urllib3.exceptions
from kubernetes import client as k8s_client
from kubernetes import dynamic, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from bot import api_errors
from bot.core import readiness
from bot.core.errors import ClusterError, OperatorError, PermanentClusterError, TemporaryClusterError
from bot.core.guardrails import Ownership
from bot.core.ports import ObjectRef, PodLog, Readiness
from bot.core.readiness import FailFast

log = logging.getLogger(__name__)

FIELD_MANAGER = "appprofile"
DEPLOYMENT_LABEL = "appprofile.dev/deployment"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "appprofile"
# Every kind the bot creates, so `list_owned` finds all of a deployment's objects.
OWNED_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("batch/v1", "Job"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "Ingress"),
    ("v1", "Namespace"),
)
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
# OSError covers ConnectionError, TimeoutError and the socket and ssl errors urllib3 lets through.
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)
_WATCH_RESTARTS = 5
# Statuses whose Retry-After header says when the server wants to be asked again.
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# A rollout can emit many events a second; the pods are listed at most this often for them.
_POD_CHECK_MIN_GAP = 1.0
# A bound on one container's log read, whatever its lines' length (500 lines of 1 KiB and more).
MAX_LOG_BYTES = 512 * 1024
_T = TypeVar("_T")
# The client's dynamic layer is untyped; it is used through these Any-typed names only.
_DynamicClient: Any = dynamic.DynamicClient
_Watch: Any = watch.Watch


class _BoundedDynamicClient(_DynamicClient):  # type: ignore[misc]
    """A `DynamicClient` whose requests carry a timeout unless the caller passed one.

    `DynamicClient.request` is the one funnel for every verb and for discovery (which runs inside
    the constructor and lazily on lookups, and never passes `_request_timeout`), so defaulting it
    here covers all of them; the watch keeps its own explicit bound. Injecting it lower, into
    `ApiClient.rest_client.request`, would mean mutating the caller's (possibly shared) ApiClient.
    """

    def __init__(
        self, api_client: k8s_client.ApiClient, timeout: tuple[float, float], cache_file: str | None
    ):
        self._default_timeout = timeout  # set first: the parent constructor already runs discovery
        super().__init__(api_client, cache_file=cache_file)

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        if params.get("_request_timeout") is None:
            params["_request_timeout"] = self._default_timeout
        return super().request(method, path, body, **params)


def _timeout_kind(exc: BaseException) -> str | None:
    """ "connect" or "read" if the request timed out; urllib3 may wrap that in MaxRetryError."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return None  # refused/unresolvable: urllib3 derives it from ConnectTimeoutError, but it is not one
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return "connect"
    if isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
        return "read"
    return None


def _retry_after(exc: ApiException) -> float | None:
    """The Retry-After header in seconds; None when absent or in the HTTP-date form."""
    headers: Any = exc.headers if hasattr(exc.headers, "get") else {}
    raw: Any = headers.get("Retry-After") or headers.get("retry-after")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


class _Gone(PermanentClusterError):
    """The object does not exist (404); callers decide whether that is fine."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class _Failure(NamedTuple):
    """One failed attempt worth retrying: what went wrong, for the final message."""

    reason: str
    timed_out: str | None = None  # "connect" or "read"
    status: int | None = None
    asked: float | None = None  # the server's Retry-After, in seconds

    @classmethod
    def of_status(cls, e: ApiException) -> _Failure:
        status = int(e.status or 0)
        asked = _retry_after(e) if status in _RETRY_AFTER_STATUSES else None
        return cls(f"HTTP {status}", status=status, asked=asked)


def _reason_of(exc: BaseException) -> BaseException:
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return exc.reason
    return exc


def _tls_failure(exc: BaseException) -> bool:
    """A certificate or handshake failure: asking again gets the same answer."""
    return isinstance(_reason_of(exc), urllib3.exceptions.SSLError | ssl.SSLError)


def _network_reason(exc: BaseException) -> str:
    """The failure in words (never a library's class name)."""
    reason = _reason_of(exc)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the API server's host name does not resolve"
    if isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused" if "refused" in str(reason).lower() else "cannot connect"
    if isinstance(reason, urllib3.exceptions.ProtocolError | ConnectionError):
        return "connection dropped"
    if isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timed out"
    return "network error"


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body) if isinstance(exc.body, str | bytes) else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _api_message(exc: ApiException, *, secret: bool) -> str:
    """The API's own words: Status.message plus each cause's field and message."""
    body = _status_body(exc)
    parts = [str(body.get("message") or exc.reason or f"HTTP {exc.status}")]
    for cause in (body.get("details") or {}).get("causes") or []:
        if isinstance(cause, dict) and (cause.get("field") or cause.get("message")):
            line = f"{cause.get('field') or '?'}: {cause.get('message') or cause.get('reason') or ''}".strip()
            if line not in parts[0]:
                parts.append(line)
    text = "; ".join(parts)
    if secret:
        # The API quotes rejected values ("Invalid value: \"...\""); for a Secret that is its data.
        text = re.sub(r'Invalid value: "(?:[^"\\]|\\.)*"', "Invalid value: (hidden)", text)
    return text


def _log_sources(pod: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(container, previous) to read for a pod: each container in spec order, its previous
    (crashed) one first when it has restarted."""
    spec_names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = {str(s.get("name")): int(s.get("restartCount") or 0) for s in statuses}
    names = spec_names or list(restarts)
    out: list[tuple[str, bool]] = []
    for name in names:
        if restarts.get(name, 0) > 0:
            out.append((name, True))
        out.append((name, False))
    return out


class KubeCluster:
    """One cluster through one `ApiClient`. Thread-safe for the executor's use."""

    def __init__(
        self,
        name: str,
        api_client: k8s_client.ApiClient,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_time: float = 30.0,
        request_timeout: tuple[float, float] = (5.0, 30.0),
        discovery_cache: str | None = None,
        fail_fast: FailFast | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`request_timeout` is (connect, read) seconds for every call but the watch;
        `discovery_cache` is the discovery cache file (None: one in a private temporary folder of
        this instance — the client's default is a predictable name in the shared temp dir, which
        another process or an earlier cluster on the same address would have filled);
        `fail_fast` is the default for waits that do not pass their own."""
        self.name = name
        self._api = api_client
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_time = max_retry_time
        self._timeout = request_timeout
        self._discovery_cache = discovery_cache or os.path.join(
            tempfile.mkdtemp(prefix="appprofile-discovery-"), "discovery.json"
        )
        self.fail_fast = fail_fast or FailFast()
        self._sleep = sleep
        self._clock = clock
        self._dyn: Any = None
        self._lock = threading.Lock()
        # (apiVersion, kind) -> the discovered resource, or None for a kind not served. Misses are
        # forgotten after each apply: that apply may have been the CRD that serves the kind.
        self._resources: dict[tuple[str, str], Any] = {}
        self._discovery_lock = threading.Lock()

    # ---- plumbing ------------------------------------------------------------------------

    def _call(
        self, verb: str, plural: str, namespace: str | None, fn: Callable[[], _T], *, secret: bool = False
    ) -> _T:
        """Run one API call with bounded retries; every failure becomes a `ClusterError` (a 404 the
        `_Gone` one, which callers may take as an answer). No library exception gets out."""
        where = f"{verb} {plural}" + (f" in `{namespace}`" if namespace else "")
        started = self._clock()
        delay = self._backoff
        failure = _Failure("no attempt")
        for attempt in range(self._retries + 1):
            try:
                return fn()
            except ApiException as e:
                if int(e.status or 0) != 404:  # a 404 is an answer ("not there"), not an error
                    api_errors.count("kubernetes", str(e.status or "no status"))
                if int(e.status or 0) not in _RETRYABLE:
                    raise self._refused(e, verb, plural, namespace, secret=secret) from None
                failure = _Failure.of_status(e)
            except (*_NETWORK_ERRORS, ValueError) as e:
                failure = self._no_answer(e, where)
                timeout = _timeout_kind(e)
                api_errors.count("kubernetes", f"{timeout} timeout" if timeout else "unreachable")
            except ConfigException as e:  # an exec or token-file credential failed to refresh
                raise OperatorError(
                    f"cluster {self.name}: {where}: the kubeconfig's credentials cannot be loaded: {e}",
                    hint="check the user entry of the cluster's kubeconfig context (exec plugin, token file)",
                ) from None
            # The server's own Retry-After beats our guess, within the same bound.
            pause = delay if failure.asked is None else min(failure.asked, self._max_backoff)
            elapsed = self._clock() - started
            if attempt == self._retries or elapsed + pause > self._max_retry_time:
                break
            log.warning(
                "kube call failed, retrying",
                extra={"cluster": self.name, "verb": verb, "resource": plural, "error": failure.reason},
            )
            self._sleep(pause)
            delay = min(delay * 2, self._max_backoff)
        raise self._gave_up(where, attempt + 1, failure)

    def _refused(
        self, e: ApiException, verb: str, plural: str, namespace: str | None, *, secret: bool
    ) -> ClusterError:
        """An answer not worth asking again: 404 (`_Gone`), 401, 403, 409, 422 and the rest."""
        status = int(e.status or 0)
        where = f" in `{namespace}`" if namespace else ""
        said = _api_message(e, secret=secret)
        if status == 404:
            return _Gone(said)
        if status == 401:
            return ClusterError(
                f"cluster {self.name}: the API server rejected the bot's credentials to {verb} "
                f"{plural}{where}: {said}",
                status=401,
                hint="renew the credentials of the cluster's kubeconfig user (token, client certificate)",
            )
        if status == 403:
            return ClusterError(
                f"cluster {self.name}: forbidden to {verb} {plural}{where}: {said}",
                status=403,
                hint=f"the bot's service account needs `{verb}` on `{plural}`"
                + (f" in `{namespace}`" if namespace else " (cluster-wide)"),
            )
        if status in (409, 422):
            return ClusterError(f"cluster {self.name}: cannot {verb} {plural}{where}: {said}", status=status)
        return ClusterError(
            f"cluster {self.name}: {verb} {plural}{where} failed ({status}): {said}", status=status
        )

    def _no_answer(self, e: Exception, where: str) -> _Failure:
        """An attempt that got no usable answer: worth retrying, unless TLS failed or the answer
        is not JSON (both would fail again). Any other ValueError is a bug, not ours to map."""
        if isinstance(e, ValueError) and not isinstance(e, urllib3.exceptions.HTTPError):
            if isinstance(e.__context__, _NETWORK_ERRORS):
                # Discovery re-raises a dropped connection as a ValueError about https://.
                e = e.__context__
            elif isinstance(e, json.JSONDecodeError):
                raise PermanentClusterError(
                    f"cluster {self.name}: {where}: the server's answer is not JSON",
                    hint="check that the cluster's address points at a Kubernetes API server, not a proxy page",
                ) from None
            else:
                raise e
        if _tls_failure(e):
            raise self._untrusted(where) from None
        return _Failure(_network_reason(e), timed_out=_timeout_kind(e))

    def _untrusted(self, where: str) -> PermanentClusterError:
        return PermanentClusterError(
            f"cluster {self.name}: {where}: the TLS handshake with the API server failed",
            hint="check the server address and certificate-authority of the cluster in the kubeconfig",
        )

    def _gave_up(self, where: str, attempts: int, failure: _Failure) -> TemporaryClusterError:
        """The last failure after every retry: still temporary, with the server's Retry-After."""
        tries = f"gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
        if failure.timed_out == "read":
            message = f"the API server did not answer within {self._timeout[1]:g} s; {tries}"
            hint = (
                "the API server accepts connections but does not respond: check its health "
                "(`kubectl get --raw /readyz`) and load, then retry"
            )
        elif failure.timed_out == "connect":
            message = f"the API server did not accept a connection within {self._timeout[0]:g} s; {tries}"
            hint = "check the network path to the API server (address in the kubeconfig, VPN, firewall)"
        else:
            message = f"kept failing ({failure.reason}); {tries}"
            hint = "check that the cluster's API server is reachable and healthy, then retry"
        sep = ": " if failure.timed_out else " "
        return TemporaryClusterError(
            f"cluster {self.name}: {where}{sep}{message}",
            status=failure.status,
            hint=hint,
            retry_after=failure.asked,
        )

    def _client(self) -> Any:
        with self._lock:
            if self._dyn is None:
                # Discovery is done once per cluster and cached by the DynamicClient.
                try:
                    self._dyn = self._call(
                        "discover",
                        "APIs",
                        None,
                        lambda: _BoundedDynamicClient(self._api, self._timeout, self._discovery_cache),
                    )
                except _Gone:
                    raise ClusterError(
                        f"cluster {self.name}: API discovery found nothing (404)",
                        hint="check that the cluster's address points at a Kubernetes API server",
                    ) from None
            return self._dyn

    def _lookup(self, api_version: str, kind: str) -> Any | None:
        """The discovered resource for a kind, or None if the cluster does not serve it.

        The client's lazy discoverer refreshes its whole cache once on a miss by itself, so a
        miss costs one rediscovery; remembering the miss keeps later calls from repeating it.
        """
        key = (api_version, kind)
        with self._discovery_lock:
            if key in self._resources:
                return self._resources[key]
            dyn = self._client()
            # "v1" alone would match every group's v1 and fetch each of their resource lists.
            prefix = "apis" if "/" in api_version else "api"

            def find() -> Any:
                try:
                    return dyn.resources.get(api_version=api_version, kind=kind, prefix=prefix)
                except ResourceNotFoundError:
                    return None
                except ResourceNotUniqueError:
                    raise PermanentClusterError(
                        f"cluster {self.name} serves {kind} in {api_version} more than once",
                        hint="two APIs claim this kind: remove the duplicate CRD or API service",
                    ) from None

            try:
                found = self._call("discover", "APIs", None, find)
            except _Gone:
                found = None
            self._resources[key] = found
            return found

    def _forget_misses(self) -> None:
        with self._discovery_lock:
            self._resources = {k: v for k, v in self._resources.items() if v is not None}

    def _resource(self, api_version: str, kind: str) -> Any:
        res = self._lookup(api_version, kind)
        if res is None:
            raise ClusterError(
                f"cluster {self.name} does not serve {kind} in {api_version}",
                hint="install the CRD or API that provides it, or fix apiVersion/kind",
            )
        return res

    # ---- the port --------------------------------------------------------------------------

    def scope(self, api_version: str, kind: str) -> bool | None:
        res = self._lookup(api_version, kind)
        return None if res is None else bool(res.namespaced)

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        ref = ObjectRef.of(obj)
        if not ref.name:
            raise ClusterError(f"cannot apply a {ref.kind} without metadata.name")
        res = self._resource(ref.api_version, ref.kind)
        if res.namespaced and not ref.namespace:
            raise ClusterError(f"{ref.kind} {ref.name} has no metadata.namespace")
        namespace = ref.namespace if res.namespaced else None
        dyn = self._client()
        body = dict(obj)
        try:
            result = self._call(
                "patch",
                res.name,
                namespace,
                lambda: dyn.server_side_apply(
                    res, body=body, field_manager=FIELD_MANAGER, force_conflicts=True
                ),
                secret=ref.kind == "Secret",
            )
        except _Gone as gone:
            raise ClusterError(
                f"cluster {self.name}: cannot apply {ref.label}: "
                f"namespace `{namespace}` does not exist ({gone})",
                status=404,
                hint="create the namespace first (the tier's NAMESPACE parameter names it)",
            ) from None
        self._forget_misses()
        stored: dict[str, Any] = result.to_dict()
        return stored

    def ensure_namespace(self, name: str, labels: Mapping[str, str]) -> None:
        meta = {"name": name, "labels": dict(labels)}
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})

    def _get(
        self, res: Any, name: str, namespace: str | None, *, secret: bool = False
    ) -> dict[str, Any] | None:
        dyn = self._client()
        try:
            obj = self._call(
                "get",
                res.name,
                namespace,
                lambda: dyn.get(res, name=name, namespace=namespace),
                secret=secret,
            )
        except _Gone:
            return None
        result: dict[str, Any] = obj.to_dict()
        return result

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        obj = self._get(self._resource("v1", "Secret"), name, namespace, secret=True)
        if obj is None:
            return None
        data = obj.get("data") or {}
        return {k: base64.b64decode(v or "").decode("utf-8", errors="replace") for k, v in data.items()}

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(self._resource("v1", "Service"), name, namespace)

    def read(self, ref: ObjectRef) -> dict[str, Any] | None:
        res = self._lookup(ref.api_version, ref.kind)
        if res is None:
            return None
        namespace = ref.namespace if res.namespaced else None
        return self._get(res, ref.name, namespace, secret=ref.kind == "Secret")

    def namespace_owner(self, name: str) -> Ownership:
        """Whether a namespace exists and which appprofile deployment, if any, manages it."""
        obj = self._get(self._resource("v1", "Namespace"), name, None)
        if obj is None:
            return Ownership(exists=False)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        managed = labels.get(MANAGED_BY_LABEL) == MANAGED_BY
        return Ownership(
            exists=True, managed=managed, deployment=labels.get(DEPLOYMENT_LABEL) if managed else None
        )

    def list_owned(self, deployment: str) -> list[ObjectRef]:
        dyn = self._client()
        refs: list[ObjectRef] = []
        # Both labels: an object someone else labelled with our deployment label is not ours to touch.
        selector = f"{DEPLOYMENT_LABEL}={deployment},{MANAGED_BY_LABEL}={MANAGED_BY}"
        for api_version, kind in OWNED_KINDS:
            try:
                res = self._resource(api_version, kind)
            except ClusterError:
                continue  # a kind this cluster does not serve holds nothing of ours
            try:
                listing: Any = self._call(
                    "list", res.name, None, functools.partial(dyn.get, res, label_selector=selector)
                )
            except _Gone:
                continue
            for item in listing.to_dict().get("items") or []:
                meta = item.get("metadata") or {}
                refs.append(
                    ObjectRef(
                        api_version=api_version,
                        kind=kind,
                        name=str(meta.get("name")),
                        namespace=meta.get("namespace") if res.namespaced else None,
                    )
                )
        return refs

    def delete(self, ref: ObjectRef) -> None:
        res = self._lookup(ref.api_version, ref.kind)
        if res is None:
            return  # a kind the cluster does not serve holds no such object: already gone
        namespace = ref.namespace if res.namespaced else None
        dyn = self._client()
        try:
            self._call(
                "delete",
                res.name,
                namespace,
                lambda: dyn.delete(res, name=ref.name, namespace=namespace, propagation_policy="Background"),
            )
        except _Gone:
            return  # already gone: that is what we wanted

    # ---- logs -----------------------------------------------------------------------------

    def pod_logs(self, namespace: str, selector: Mapping[str, str], *, lines: int) -> list[PodLog]:
        # Pods through the dynamic client, as plain dicts: the typed `list_namespaced_pod` validates
        # every field into strict models and fails on a status the kubelet left partly empty.
        # The logs through the typed `read_namespaced_pod_log`: its answer is only text.
        res = self._resource("v1", "Pod")
        dyn = self._client()
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        try:
            listing = self._call(
                "list",
                "pods",
                namespace,
                lambda: dyn.get(res, namespace=namespace, label_selector=label_selector),
            ).to_dict()
        except _Gone:
            return []  # no such namespace: no pods
        items: list[dict[str, Any]] = listing.get("items") or []
        core = k8s_client.CoreV1Api(self._api)
        out: list[PodLog] = []
        for pod in sorted(items, key=lambda p: str((p.get("metadata") or {}).get("name"))):
            name = str((pod.get("metadata") or {}).get("name"))
            for container, previous in _log_sources(pod):
                found = self._container_log(core, namespace, name, container, previous, max(1, lines))
                if found is not None:
                    out.append(found)
        return out

    def _container_log(
        self, core: k8s_client.CoreV1Api, namespace: str, pod: str, container: str, previous: bool, lines: int
    ) -> PodLog | None:
        """One container's last lines; None when there is nothing to show (a previous container
        the kubelet no longer has, or a pod deleted since it was listed)."""

        def read() -> PodLog:
            try:
                text = core.read_namespaced_pod_log(
                    pod,
                    namespace,
                    container=container,
                    tail_lines=lines,
                    previous=previous,
                    limit_bytes=MAX_LOG_BYTES,
                    _request_timeout=self._timeout,
                )
            except ApiException as e:
                if int(e.status or 0) != 400:
                    raise  # mapped by `_call`, as every other answer
                # The kubelet's "no log here": waiting to start, no previous terminated container.
                return PodLog(
                    pod=pod, container=container, previous=previous, note=_api_message(e, secret=False)
                )
            return PodLog(pod=pod, container=container, previous=previous, text=str(text or ""))

        try:
            got = self._call("get", "pods/log", namespace, read)
        except _Gone:
            return None
        if previous and got.note:
            return None  # "previous terminated container … not found": nothing crashed worth showing
        return got

    # ---- waiting --------------------------------------------------------------------------

    def _binding_mode(self, pvc: Mapping[str, Any]) -> str | None:
        """The volumeBindingMode of the claim's StorageClass (named, or the default one)."""
        try:
            res = self._resource("storage.k8s.io/v1", "StorageClass")
            dyn = self._client()
            class_name = (pvc.get("spec") or {}).get("storageClassName")
            if class_name:
                sc = self._get(res, class_name, None)
                return None if sc is None else sc.get("volumeBindingMode")
            listing = self._call("list", res.name, None, lambda: dyn.get(res)).to_dict()
        except (ClusterError, _Gone):
            return None  # unknown: the claim is then waited for like any other
        for sc in listing.get("items") or []:
            annotations = (sc.get("metadata") or {}).get("annotations") or {}
            if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                mode = sc.get("volumeBindingMode")
                return str(mode) if mode else None
        return None

    def _list_pods(self, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The workload's pods by its selector; [] when it has none to select by."""
        selector = readiness.pod_selector(obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        if selector is None or not namespace:
            return []
        res = self._resource("v1", "Pod")
        dyn = self._client()
        listing = self._call(
            "list", "pods", namespace, lambda: dyn.get(res, namespace=namespace, label_selector=selector)
        ).to_dict()
        items: list[dict[str, Any]] = listing.get("items") or []
        return items

    def wait_ready(
        self,
        ref: ObjectRef,
        *,
        timeout: float,
        on_progress: Callable[[str], None] | None = None,
        fail_fast: FailFast | None = None,
    ) -> Readiness:
        res = self._resource(ref.api_version, ref.kind)
        wait = _RolloutWait(self, ref, res, timeout, on_progress, fail_fast or self.fail_fast)
        return wait.run()


class _RolloutWait:
    """One `wait_ready`: the object's watch, its pods, and the verdicts of a `RolloutJudge`."""

    def __init__(
        self,
        kube: KubeCluster,
        ref: ObjectRef,
        res: Any,
        timeout: float,
        on_progress: Callable[[str], None] | None,
        rules: FailFast,
    ) -> None:
        self.kube, self.ref, self.res, self.rules = kube, ref, res, rules
        self.namespace = ref.namespace if res.namespaced else None
        self.timeout = timeout
        self.deadline = kube._clock() + timeout
        self.on_progress = on_progress
        self.judge = readiness.RolloutJudge(rules)
        self.obj: dict[str, Any] | None = None
        self.version: str | None = None  # None: the next watch starts with the current state
        self.state = Readiness(ready=False, message="not seen yet")
        self.last_line: str | None = None
        self.pods_at = -math.inf
        self.pod_error: str | None = None
        self.binding_mode: str | None = None
        self.binding_known = False

    def remaining(self) -> float:
        return self.deadline - self.kube._clock()

    def done(self) -> bool:
        return self.state.ready or self.state.failed or self.remaining() <= 0

    def run(self) -> Readiness:
        failures = 0
        delay = self.kube._backoff
        # Every round either lasts a watch window or sleeps a backoff; the count is a backstop.
        step = max(0.01, min(self.kube._backoff, self.rules.pod_check_interval))
        for _ in range(10 + math.ceil(self.timeout / step)):
            if self.done():
                break
            if self._watch_window():
                failures, delay = 0, self.kube._backoff
                self._observe(force_pods=True)  # the window ran out: time for a look at the pods
                continue
            if self.done():
                break
            failures += 1
            log.info(
                "watch ended early, re-establishing",
                extra={"cluster": self.kube.name, "object": self.ref.label, "restarts": failures},
            )
            if failures >= _WATCH_RESTARTS:
                failures = 0
                self._read(force_pods=False)  # the watch keeps failing: a plain read still progresses
            self.kube._sleep(min(delay, max(0.0, self.remaining())))
            delay = min(delay * 2, self.kube._max_backoff)
        return self._final()

    def _watch_window(self) -> bool:
        """Watch until the window ends (True) or the stream fails or ends early (False)."""
        remaining = max(0.0, self.remaining())
        window = remaining
        if self.ref.kind in readiness.POD_KINDS:
            window = min(remaining, self.rules.pod_check_interval)
        started = self.kube._clock()
        watcher = _Watch()
        try:
            stream = watcher.stream(
                self.res.get,
                namespace=self.namespace,
                field_selector=f"metadata.name={self.ref.name}",
                resource_version=self.version,
                serialize=False,
                timeout_seconds=max(1, math.ceil(window)),
                # A client-side bound too, in case the server ignores timeoutSeconds.
                _request_timeout=(self.kube._timeout[0], window + 10),
            )
            for event in stream:
                self._event(event)
                if self.done():
                    return True
        except ApiException as e:
            self._watch_error(e)
            return False
        except _NETWORK_ERRORS:
            return False
        finally:
            watcher.stop()
        # A stream the server closed long before its timeout is a drop, not a quiet window.
        return self.kube._clock() - started >= 0.9 * window

    def _watch_error(self, e: ApiException) -> None:
        status = int(e.status or 0)
        if status == 403:
            raise ClusterError(
                f"cluster {self.kube.name}: forbidden to watch {self.res.name} in `{self.namespace}`",
                status=403,
                hint=f"the bot's service account needs `watch` on `{self.res.name}`"
                + (f" in `{self.namespace}`" if self.namespace else ""),
            ) from None
        if status == 410:
            self.version = None  # expired: the next watch starts from the current state

    def _event(self, event: Mapping[str, Any]) -> None:
        raw = event.get("raw_object") or {}
        if event.get("type") == "DELETED":
            self.obj = None
        elif event.get("type") in ("ADDED", "MODIFIED"):
            self.obj = raw
        else:
            return  # BOOKMARK and the like carry no state
        self.version = (raw.get("metadata") or {}).get("resourceVersion") or self.version
        self._observe(force_pods=False)

    def _read(self, *, force_pods: bool) -> None:
        self.obj = self.kube._get(self.res, self.ref.name, self.namespace)
        self.version = ((self.obj or {}).get("metadata") or {}).get("resourceVersion")
        self._observe(force_pods=force_pods)

    def _observe(self, *, force_pods: bool) -> None:
        pods = self._pods(force=force_pods)
        mode = self._binding(self.obj)
        self.state = self.judge.judge(self.obj, now=self.kube._clock(), pods=pods, binding_mode=mode)
        line = self.judge.line(self.obj)
        if not self.state.ready and line is not None and line != self.last_line:
            self.last_line = line
            if self.on_progress is not None:
                self.on_progress(line)

    def _pods(self, *, force: bool) -> list[dict[str, Any]] | None:
        if self.obj is None or not self.judge.wants_pods(self.obj):
            return None
        now = self.kube._clock()
        if not force and now - self.pods_at < _POD_CHECK_MIN_GAP:
            return None
        self.pods_at = now
        try:
            pods = self.kube._list_pods(self.obj)
        except (ClusterError, _Gone) as e:
            # Diagnostics only: not seeing the pods must not fail the wait.
            self.pod_error = str(e)
            return None
        self.pod_error = None
        return pods

    def _binding(self, obj: Mapping[str, Any] | None) -> str | None:
        if obj is None or obj.get("kind") != "PersistentVolumeClaim":
            return None
        if (obj.get("status") or {}).get("phase") == "Bound":
            return None
        if not self.binding_known:  # a StorageClass read once per wait, not on every event
            self.binding_mode, self.binding_known = self.kube._binding_mode(obj), True
        return self.binding_mode

    def _final(self) -> Readiness:
        if not (self.state.ready or self.state.failed):
            # A stalled watch must not turn a Ready object into a timeout: judge a fresh read.
            self._read(force_pods=True)
        if self.state.ready or self.state.failed:
            return self.state
        if self.obj is None:
            return Readiness(ready=False, message="does not exist")
        note = f"; could not list pods: {self.pod_error}" if self.pod_error else ""
        return Readiness(ready=False, message=self.state.message + note)
