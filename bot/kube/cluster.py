"""`KubeCluster`: the `bot.core.ports.Cluster` port over the official `kubernetes` client.

Writes are server-side apply through `DynamicClient.server_side_apply` (the typed
`patch_*(_content_type=...)` path is not portable across client versions). Waiting is
watch-driven: one read, then a watch on the single object until ready, failed or the deadline.
Every other request, discovery included, carries a (connect, read) timeout, so a hung API server
turns into a `ClusterError` after bounded retries instead of blocking a deploy thread forever.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import urllib3.exceptions
from kubernetes import client as k8s_client
from kubernetes import dynamic, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from bot.core import readiness
from bot.core.ports import ClusterError, ObjectRef, Readiness

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
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
_WATCH_RESTARTS = 5
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


class _Gone(Exception):
    """The object does not exist (404); callers decide whether that is fine."""


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`request_timeout` is (connect, read) seconds for every call but the watch;
        `discovery_cache` is the discovery cache file (None: the client's default in the temp dir)."""
        self.name = name
        self._api = api_client
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_time = max_retry_time
        self._timeout = request_timeout
        self._discovery_cache = discovery_cache
        self._sleep = sleep
        self._dyn: Any = None
        self._lock = threading.Lock()

    # ---- plumbing ------------------------------------------------------------------------

    def _call(
        self, verb: str, plural: str, namespace: str | None, fn: Callable[[], _T], *, secret: bool = False
    ) -> _T:
        """Run one API call with bounded retries; map failures to `ClusterError` or `_Gone`."""
        where = f" in `{namespace}`" if namespace else ""
        started = time.monotonic()
        delay = self._backoff
        last = ""
        timed_out: str | None = None
        for attempt in range(self._retries + 1):
            try:
                return fn()
            except ApiException as e:
                status = int(e.status or 0)
                if status == 404:
                    raise _Gone(_api_message(e, secret=secret)) from None
                if status == 403:
                    raise ClusterError(
                        f"cluster {self.name}: forbidden to {verb} {plural}{where}: "
                        f"{_api_message(e, secret=secret)}",
                        status=403,
                        hint=f"the bot's service account needs `{verb}` on `{plural}`"
                        + (f" in `{namespace}`" if namespace else " (cluster-wide)"),
                    ) from None
                if status in (409, 422):
                    raise ClusterError(
                        f"cluster {self.name}: cannot {verb} {plural}{where}: "
                        f"{_api_message(e, secret=secret)}",
                        status=status,
                    ) from None
                if status not in _RETRYABLE:
                    raise ClusterError(
                        f"cluster {self.name}: {verb} {plural}{where} failed ({status}): "
                        f"{_api_message(e, secret=secret)}",
                        status=status,
                    ) from None
                last = f"HTTP {status}"
                timed_out = None
            except _NETWORK_ERRORS as e:
                last = type(e).__name__
                timed_out = _timeout_kind(e)
            elapsed = time.monotonic() - started
            if attempt == self._retries or elapsed + delay > self._max_retry_time:
                break
            log.warning(
                "kube call failed, retrying",
                extra={"cluster": self.name, "verb": verb, "resource": plural, "error": last},
            )
            self._sleep(delay)
            delay = min(delay * 2, self._max_backoff)
        tries = f"gave up after {attempt + 1} attempt{'s' if attempt else ''}"
        if timed_out == "read":
            raise ClusterError(
                f"cluster {self.name}: {verb} {plural}{where}: the API server did not answer within "
                f"{self._timeout[1]:g} s; {tries}",
                hint="the API server accepts connections but does not respond: check its health "
                "(`kubectl get --raw /readyz`) and load, then retry",
            )
        if timed_out == "connect":
            raise ClusterError(
                f"cluster {self.name}: {verb} {plural}{where}: the API server did not accept a connection "
                f"within {self._timeout[0]:g} s; {tries}",
                hint="check the network path to the API server (address in the kubeconfig, VPN, firewall)",
            )
        raise ClusterError(
            f"cluster {self.name}: {verb} {plural}{where} kept failing ({last}); gave up after "
            f"{attempt + 1} attempts",
            hint="check that the cluster's API server is reachable and healthy, then retry",
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

    def _resource(self, api_version: str, kind: str) -> Any:
        dyn = self._client()

        def find() -> Any:
            return dyn.resources.get(api_version=api_version, kind=kind)

        def refresh_and_find() -> Any:
            dyn.resources.invalidate_cache()
            return find()

        # Lookups can fetch a group's resource list (lazy discovery): network calls like any other.
        try:
            return self._call("discover", "APIs", None, find)
        except (ResourceNotFoundError, _Gone):
            # A CRD applied by an earlier tier is not in the cached discovery yet.
            try:
                return self._call("discover", "APIs", None, refresh_and_find)
            except (ResourceNotFoundError, _Gone):
                raise ClusterError(
                    f"cluster {self.name} does not serve {kind} in {api_version}",
                    hint="install the CRD or API that provides it, or fix apiVersion/kind",
                ) from None

    # ---- the port --------------------------------------------------------------------------

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
        res = self._resource(ref.api_version, ref.kind)
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

    def _evaluate(self, obj: Mapping[str, Any]) -> Readiness:
        mode = None
        if obj.get("kind") == "PersistentVolumeClaim" and (obj.get("status") or {}).get("phase") != "Bound":
            mode = self._binding_mode(obj)
        return readiness.evaluate(obj, binding_mode=mode)

    def _pod_problems(self, obj: Mapping[str, Any]) -> list[str]:
        spec = obj.get("spec") or {}
        labels = dict((spec.get("selector") or {}).get("matchLabels") or {})
        if not labels and obj.get("kind") == "Job":
            labels = {"job-name": str((obj.get("metadata") or {}).get("name"))}
        namespace = (obj.get("metadata") or {}).get("namespace")
        if not labels or not namespace:
            return []
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        try:
            res = self._resource("v1", "Pod")
            dyn = self._client()
            pods = self._call(
                "list", "pods", namespace, lambda: dyn.get(res, namespace=namespace, label_selector=selector)
            ).to_dict()
        except (ClusterError, _Gone) as e:
            # Diagnostics only: the wait result must not turn into an error because of them.
            return [f"(could not list pods: {e})"]
        return readiness.pod_problems(pods.get("items") or [])

    def _outcome(
        self, ref: ObjectRef, obj: Mapping[str, Any] | None, state: Readiness, timeout: float
    ) -> Readiness:
        if state.ready:
            return state
        if obj is None:
            return Readiness(ready=False, message=f"{ref.label} does not exist after {timeout:g}s")
        problems = self._pod_problems(obj) if obj.get("kind") in ("Deployment", "StatefulSet", "Job") else []
        head = state.message if state.failed else f"{ref.label} not ready after {timeout:g}s: {state.message}"
        message = "; ".join([head, *problems])
        return Readiness(ready=False, failed=state.failed, message=message)

    def wait_ready(
        self,
        ref: ObjectRef,
        *,
        timeout: float,
        on_progress: Callable[[str], None] | None = None,
    ) -> Readiness:
        deadline = time.monotonic() + timeout
        res = self._resource(ref.api_version, ref.kind)
        namespace = ref.namespace if res.namespaced else None
        last_line: str | None = None
        state = Readiness(ready=False, message="not read yet")

        def judge(current: Mapping[str, Any] | None) -> Readiness:
            nonlocal last_line
            if current is None:
                return Readiness(ready=False, message=f"{ref.label} does not exist yet")
            verdict = self._evaluate(current)
            line = readiness.progress_line(current)
            if not verdict.ready and line is not None and line != last_line and on_progress is not None:
                last_line = line
                on_progress(line)
            return verdict

        obj = self._get(res, ref.name, namespace)
        version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
        state = judge(obj)
        restarts = 0
        delay = self._backoff
        while not (state.ready or state.failed) and (remaining := deadline - time.monotonic()) > 0:
            watcher = _Watch()
            try:
                stream = watcher.stream(
                    res.get,
                    namespace=namespace,
                    field_selector=f"metadata.name={ref.name}",
                    resource_version=version,
                    serialize=False,
                    timeout_seconds=max(1, math.ceil(remaining)),
                    # A client-side bound too, in case the server ignores timeoutSeconds.
                    _request_timeout=(10, remaining + 10),
                )
                for event in stream:
                    raw = event.get("raw_object") or {}
                    if event.get("type") == "DELETED":
                        obj = None
                    elif event.get("type") in ("ADDED", "MODIFIED"):
                        obj = raw
                    version = (raw.get("metadata") or {}).get("resourceVersion") or version
                    state = judge(obj)
                    if state.ready or state.failed or time.monotonic() >= deadline:
                        watcher.stop()
                        break
                else:
                    restarts += 1  # the server ended the stream (its timeout, or a drop)
            except ApiException as e:
                if int(e.status or 0) == 403:
                    raise ClusterError(
                        f"cluster {self.name}: forbidden to watch {res.name} in `{namespace}`",
                        status=403,
                        hint=f"the bot's service account needs `watch` on `{res.name}`"
                        + (f" in `{namespace}`" if namespace else ""),
                    ) from None
                if int(e.status or 0) == 410:
                    version = None  # expired: the next watch starts from the current state
                restarts += 1
            except _NETWORK_ERRORS:
                restarts += 1
            finally:
                watcher.stop()
            if state.ready or state.failed or time.monotonic() >= deadline:
                break
            log.info(
                "watch ended early, re-establishing",
                extra={"cluster": self.name, "object": ref.label, "restarts": restarts},
            )
            if restarts >= _WATCH_RESTARTS:
                # The watch keeps failing: start over from a fresh read of the object.
                restarts = 0
                obj = self._get(res, ref.name, namespace)
                version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
                state = judge(obj)
            self._sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, self._max_backoff)
        return self._outcome(ref, obj, state, timeout)
