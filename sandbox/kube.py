"""A Kubernetes API emulator on loopback for tests and the local sandbox.

Built on `kmock.KubernetesEmulator` (pinned to 0.8): kmock provides the aiohttp server, the
request log, /version and Status error rendering. kmock 0.8's own object store has the gaps
listed in `reference/kubernetes-testing.md` (namespaces mis-parsed, no upsert on apply, no
uid/resourceVersion/generation, no selectors, endless watches, ...). Patching around each of them
inside its store touched more private code than replacing it, so resource requests are parsed and
served here with a small store of our own. Beside it, in modules named after what they hold:
`kube_kinds` (every built-in kind with its true scope, read from the official client, and the
kinds of stored CRDs), `kube_discovery`, `kube_auth` (impersonation, grants, 403 wording),
`kube_controller` and `kube_pods` (workloads make pods; `:nopull`/`:crash` images fail),
`kube_selectors`, `kube_errors`.

What this still does not emulate, on purpose: server-side apply field ownership and conflicts
(one field manager's full intent replaces the spec-like fields), strategic-merge list
semantics, defaulting, schema validation, admission, evaluation of the stored RBAC objects (only
`grant()`/an authorizer decide), and real kubelet timing.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import dataclasses
import datetime
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import apps, parsing, references, rendering
from kubernetes import client as k8s_client

from sandbox import kube_discovery, kube_pods
from sandbox.kube_auth import Attributes, Authorizer, Grants, Impersonation, forbidden, impersonated, verb_of
from sandbox.kube_controller import Controller
from sandbox.kube_errors import ApiError, not_found, status_body
from sandbox.kube_kinds import Kind, Registry
from sandbox.kube_selectors import field_selector_matches, label_selector_matches

_WATCH_MAX_SECONDS = 1800.0
_EVENT_LOG = 5000
# TEST-NET-1 (RFC 5737): a documentation address, only ever written into status, never contacted.
LOAD_BALANCER_IP = "192.0.2.10"


_IDENTITY = ("apiVersion", "kind", "metadata", "status")
_CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
_REASONS = {
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}

# (group, plural, namespace or "", name)
Key = tuple[str, str, str, str]


# ---- merging -------------------------------------------------------------------------------------


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (null deletes); lists are replaced, not strategically merged."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge_patch(result.get(k), v)
    return result


def _spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _IDENTITY}


@dataclasses.dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    times: int
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(eq=False)
class _Watcher:
    kind: Kind
    namespace: str | None
    labels: str | None
    fields: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None]


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator with our own store for resource requests (see the module docstring)."""

    controllers: bool = False
    ready_after: float = 0.5
    authorizer: Authorizer | None = None
    grants: Grants | None = None
    _kinds: Registry = attrs.field(factory=Registry, init=False)
    _pods_logs: dict[tuple[str, str, str, bool], str] = attrs.field(factory=dict, init=False)
    _impersonations: list[Impersonation] = attrs.field(factory=list, init=False)
    _controller: Controller | None = attrs.field(default=None, init=False)
    _store: dict[Key, dict[str, Any]] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=1, init=False)
    _log: collections.deque[tuple[int, Kind, str, dict[str, Any]]] = attrs.field(
        factory=lambda: collections.deque(maxlen=_EVENT_LOG), init=False
    )
    _watchers: set[_Watcher] = attrs.field(factory=set, init=False)
    _faults: list[_Fault] = attrs.field(factory=list, init=False)
    _faults_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _timers: dict[Key, asyncio.TimerHandle] = attrs.field(factory=dict, init=False)
    _ips: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.controllers:
            self._controller = Controller(self)
        for ns in ("default", "kube-system"):
            self._create(self.kind("Namespace"), {"metadata": {"name": ns}}, None, dry_run=False)

    # ---- request entry: our own path parsing (kmock 0.8 mis-parses /api/v1/namespaces) --------

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        await raw.read()
        try:
            request = await self._parse(raw)
            self._requests.append(request)
            who = impersonated(raw.headers)
            if who is not None:
                self._impersonations.append(Impersonation(who[0], who[1], raw.method, raw.path_qs))
            return await self._handle(request)
        except ApiError as e:
            return aiohttp.web.json_response(e.body, status=e.code)
        except Exception as e:
            resp: aiohttp.web.StreamResponse = await self._render_error(e)
            return resp

    async def _parse(self, raw: aiohttp.web.BaseRequest) -> rendering.Request:
        body = await raw.read()
        text = body.decode("utf-8", errors="replace")
        data: Any = None
        if body:
            try:
                data = json.loads(text)
            except ValueError:
                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError:
                    data = None
        path = _route(raw.path)
        query = dict(raw.query)
        action = parsing.guess_k8s(path, kmock.method.guess(raw.method), query)
        resource = (
            None
            if path.group is None
            else references.resource(group=path.group, version=path.version, plural=path.plural)
        )
        return rendering.Request(
            id=len(self._requests),
            raw_request=raw,
            url=raw.url,
            method=raw.method,
            params=query,
            headers=dict(raw.headers),
            cookies=dict(raw.cookies),
            data=data,
            body=body,
            text=text,
            action=action,
            resource=resource,
            namespace=path.namespace,
            name=path.name,
            subresource=path.subresource,
        )

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        if res is None or res.plural is None:
            doc = self._discovery(request.url.path)
            if doc is not None:
                return aiohttp.web.json_response(doc)
            # /, /api and /version stay kmock's.
            resp: aiohttp.web.StreamResponse = await apps.RawHandler._handle(self, request)
            return resp
        fault = self._take_fault(request)
        if fault is not None:
            return await self._serve_fault(request, fault)
        kind = self._kinds.served(str(res.group), str(res.version), str(res.plural))
        if kind is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        method = str(request.method.value).upper()
        ns = request.namespace if kind.namespaced else None
        watching = request.params.get("watch") in ("true", "1")
        self._authorize(request, kind, ns, verb_of(method, request.name is not None, watching))
        if watching:
            return await self._sim_watch(request, kind, ns)
        if (kind.plural, request.subresource) == ("pods", "log") and kind.group == "" and method == "GET":
            return self._pod_log(str(ns), str(request.name), request.params)
        if request.subresource not in (None, "status"):
            raise ApiError(404, "NotFound", f"subresource {request.subresource} is not served")
        if request.name is None:
            return self._collection(request, kind, ns, method)
        return self._member(request, kind, ns, method)

    def _collection(
        self, request: rendering.Request, kind: Kind, ns: str | None, method: str
    ) -> aiohttp.web.StreamResponse:
        if method == "GET":
            return aiohttp.web.json_response(self._list(kind, ns, request.params))
        if method == "POST":
            if not isinstance(request.data, dict):
                raise ApiError(400, "BadRequest", "the body of the request is not an object")
            obj = self._create(kind, request.data, ns, dry_run=request.params.get("dryRun") == "All")
            return aiohttp.web.json_response(obj, status=201)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")

    def _member(
        self, request: rendering.Request, kind: Kind, ns: str | None, method: str
    ) -> aiohttp.web.StreamResponse:
        name = str(request.name)
        if method == "GET":
            return aiohttp.web.json_response(self._get(kind, ns, name))
        if method == "DELETE":
            return aiohttp.web.json_response(self._delete(kind, ns, name))
        if method in ("PATCH", "PUT"):
            if not isinstance(request.data, dict):
                raise ApiError(400, "BadRequest", "the body of the request is not an object")
            return aiohttp.web.json_response(self._write(kind, ns, name, request, method))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")

    def _discovery(self, path: str) -> dict[str, Any] | None:
        """Our discovery documents (see `kube_discovery`), or None for kmock's own paths."""
        parts = [p for p in path.strip("/").split("/") if p]
        kinds = self._kinds.all()
        doc: dict[str, Any] | None
        if parts == ["apis"]:
            return kube_discovery.api_group_list(kinds)
        if parts == ["api", "v1"]:
            doc = kube_discovery.resource_list(kinds, "", "v1")
        elif len(parts) == 2 and parts[0] == "apis":
            doc = kube_discovery.api_group(kinds, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = kube_discovery.resource_list(kinds, parts[1], parts[2])
        else:
            return None
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return doc

    def _authorize(self, request: rendering.Request, kind: Kind, ns: str | None, verb: str) -> None:
        """403 for an impersonated identity that no grant allows (see `kube_auth`)."""
        raw = request._raw_request
        who = impersonated(raw.headers) if raw is not None else None
        if who is None or (self.authorizer is None and self.grants is None):
            return
        attrs_ = Attributes(
            who[0], who[1], verb, kind.group, kind.plural, request.subresource, ns, request.name
        )
        if any(check is not None and check(attrs_) for check in (self.authorizer, self.grants)):
            return
        message, details = forbidden(attrs_)
        raise ApiError(403, "Forbidden", message, details)

    # ---- pods/log -----------------------------------------------------------------------------

    def _pod_log(self, ns: str, name: str, params: Mapping[str, str]) -> aiohttp.web.StreamResponse:
        pod = self._store.get(("", "pods", ns, name))
        if pod is None:
            raise not_found(self.kind("Pod"), name)
        container = self._log_container(pod, params.get("container"))
        previous = params.get("previous") in ("true", "1")
        text = self._pods_logs.get((ns, name, container, previous))
        if text is None:
            text = self._no_log(pod, container, previous)
        tail = params.get("tailLines")
        if tail is not None:
            if not tail.isdigit():
                raise ApiError(400, "BadRequest", f"tailLines: invalid value {tail!r}")
            text = "".join(text.splitlines(keepends=True)[-int(tail) :] if int(tail) else [])
        return aiohttp.web.Response(text=text, content_type="text/plain")

    @staticmethod
    def _log_container(pod: Mapping[str, Any], wanted: str | None) -> str:
        names = [str(c.get("name")) for c in kube_pods.containers(pod)]
        name = pod["metadata"]["name"]
        if wanted:
            if wanted not in names:
                raise ApiError(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
            return wanted
        if len(names) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]",
            )
        return names[0]

    @staticmethod
    def _no_log(pod: Mapping[str, Any], container: str, previous: bool) -> str:
        """What the kubelet answers for a container that has logged nothing (yet)."""
        name = pod["metadata"]["name"]
        if previous:
            raise ApiError(
                400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'
            )
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        waiting = next(
            ((s.get("state") or {}).get("waiting") for s in statuses if s.get("name") == container), None
        )
        if waiting:
            reason = str(waiting.get("reason") or "")
            why = "trying and failing to pull image" if "Pull" in reason else reason
            raise ApiError(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {why}'
            )
        return ""

    # ---- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: _Fault) -> None:
        with self._faults_lock:
            self._faults.append(fault)

    def _take_fault(self, request: rendering.Request) -> _Fault | None:
        method = str(request.method.value).upper()
        target = request.url.path_qs
        with self._faults_lock:
            for fault in self._faults:
                if fault.method in (method, "*") and fault.path.search(target):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _serve_fault(self, request: rendering.Request, fault: _Fault) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        watching = request.params.get("watch") in ("true", "1")
        if fault.status == 0 or (watching and fault.status == 410):
            # A dropped connection, or a watch that the server expires (410 Gone inside the stream).
            resp = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await resp.prepare(raw)
            if fault.status == 410:
                gone = status_body(410, "Expired", "too old resource version")
                await resp.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                await resp.write_eof()
            elif raw.transport is not None:
                raw.transport.close()
            return resp
        body = fault.body
        if body is None:
            reason = _REASONS.get(fault.status, "InternalError")
            retry = fault.headers.get("Retry-After", "")
            details = {"retryAfterSeconds": int(retry)} if retry.isdigit() else None
            body = status_body(fault.status, reason, f"injected {fault.status}", details)
        return aiohttp.web.json_response(body, status=fault.status, headers=dict(fault.headers))

    # ---- the store -------------------------------------------------------------------------

    def _key(self, kind: Kind, ns: str | None, name: str) -> Key:
        return (kind.group, kind.plural, ns or "", name)

    def _require_namespace(self, kind: Kind, ns: str | None) -> None:
        if not kind.namespaced:
            return
        if not ns:
            raise ApiError(400, "BadRequest", f"{kind.kind} is namespaced: the request names no namespace")
        if ("", "namespaces", "", ns) not in self._store:
            details = {"name": ns, "kind": "namespaces"}
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', details)

    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, kind: Kind, event: str, obj: dict[str, Any]) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        snapshot = copy.deepcopy(obj)
        self._log.append((rv, kind, event, snapshot))
        for w in list(self._watchers):
            if self._watch_matches(w, kind, snapshot):
                w.queue.put_nowait((event, snapshot))
        if (kind.group, kind.plural) == _CRD:
            self._crd_changed(event, snapshot)
        if self._controller is not None:
            self._controller.changed(kind, event, snapshot)
        if self.controllers and event != "DELETED":
            self._schedule(kind, snapshot)

    def _crd_changed(self, event: str, crd: dict[str, Any]) -> None:
        """The apiextensions-apiserver's part: a CRD's kinds are served while it exists."""
        name = str(crd["metadata"]["name"])
        gone = self._kinds.undefine(name)
        if event == "DELETED":
            # Its custom objects go with it, as the API server deletes them.
            for key in [k for k in self._store if any((g.group, g.plural) == k[:2] for g in gone)]:
                obj = self._store.pop(key)
                obj["metadata"]["resourceVersion"] = self._bump()
                self._emit(gone[0], "DELETED", obj)
            return
        self._kinds.define(name, crd)
        names = (crd.get("spec") or {}).get("names") or {}
        established = {
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
            ],
            "acceptedNames": names,
            "storedVersions": [
                k.version
                for k in self._kinds.all()
                if (k.group, k.kind) == ((crd.get("spec") or {}).get("group"), names.get("kind"))
            ],
        }
        if crd.get("status") != established:
            self.set_status(self.kind("CustomResourceDefinition"), None, name, established)

    def _watch_matches(self, w: _Watcher, kind: Kind, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if w.kind != kind or (w.namespace and meta.get("namespace") != w.namespace):
            return False
        if w.labels and not label_selector_matches(w.labels, meta.get("labels") or {}):
            return False
        return not (w.fields and not field_selector_matches(w.fields, obj))

    def _get(self, kind: Kind, ns: str | None, name: str) -> dict[str, Any]:
        obj = self._store.get(self._key(kind, ns, name))
        if obj is None:
            raise not_found(kind, name)
        # One store for all versions of a resource; it answers in the version asked for.
        return {**copy.deepcopy(obj), "apiVersion": kind.api_version}

    def _list(self, kind: Kind, ns: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        probe = _Watcher(kind, ns, params.get("labelSelector"), params.get("fieldSelector"), asyncio.Queue())
        items = [
            {**copy.deepcopy(obj), "apiVersion": kind.api_version}
            for (group, plural, _, _), obj in sorted(self._store.items())
            if (group, plural) == (kind.group, kind.plural) and self._watch_matches(probe, kind, obj)
        ]
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def _finish(self, kind: Kind, obj: dict[str, Any]) -> None:
        """Server-side normalisation shared by create and update."""
        if kind.kind == "Secret" and isinstance(obj.get("stringData"), dict):
            data = dict(obj.get("data") or {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data

    def _create(
        self, kind: Kind, body: Mapping[str, Any], ns: str | None, *, dry_run: bool
    ) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value")
        ns = ns or meta.get("namespace") if kind.namespaced else None
        self._require_namespace(kind, ns)
        key = self._key(kind, ns, name)
        if key in self._store:
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{name}" already exists')
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        # Status is the controllers' business: a client cannot set it on create.
        obj.pop("status", None)
        if kind.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        if kind.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)  # as the API server does with a cluster-scoped object
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        if kind.kind == "Service" and (obj.get("spec") or {}).get("type") != "ExternalName":
            spec = obj.setdefault("spec", {})
            n = next(self._ips)
            spec.setdefault("clusterIP", f"10.96.{n // 250}.{n % 250 + 1}")
        self._finish(kind, obj)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return obj
        meta["resourceVersion"] = self._bump()
        self._store[key] = obj
        self._emit(kind, "ADDED", obj)
        return copy.deepcopy(obj)

    def _write(
        self, kind: Kind, ns: str | None, name: str, request: rendering.Request, method: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = request.data
        ctype = str(request.headers.get("Content-Type", "")).split(";")[0].strip()
        is_apply = ctype == "application/apply-patch+yaml"
        dry_run = request.params.get("dryRun") == "All"
        if is_apply and not request.params.get("fieldManager"):
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if ctype == "application/json-patch+json":
            raise ApiError(415, "UnsupportedMediaType", "JSON patch is not emulated; use merge or apply")
        key = self._key(kind, ns, name)
        old = self._store.get(key)
        if old is None:
            if is_apply and request.subresource is None:
                return self._create(kind, body, ns, dry_run=dry_run)  # apply creates (upsert)
            raise not_found(kind, name)
        new = copy.deepcopy(old)
        if request.subresource == "status":
            if method == "PUT" or is_apply:
                new["status"] = copy.deepcopy(body.get("status"))
            else:
                new["status"] = _merge_patch(old.get("status"), body.get("status"))
        elif is_apply or method == "PUT":
            # One manager's full intent: fields it no longer sends are removed (SSA semantics for
            # a single field manager; ownership across managers is not emulated).
            for k in list(new):
                if k not in _IDENTITY:
                    del new[k]
            new.update({k: copy.deepcopy(v) for k, v in body.items() if k not in _IDENTITY})
            meta_in = body.get("metadata") or {}
            for field in ("labels", "annotations", "finalizers", "ownerReferences"):
                if field in meta_in:
                    new["metadata"][field] = copy.deepcopy(meta_in[field])
            if kind.kind == "Service":
                # clusterIP is allocated by the server and owned by it, not by the applier.
                old_ip = (old.get("spec") or {}).get("clusterIP")
                if old_ip and "clusterIP" not in (new.get("spec") or {}):
                    new.setdefault("spec", {})["clusterIP"] = old_ip
        else:
            patch = {k: v for k, v in body.items() if k not in ("status", "apiVersion", "kind")}
            meta_patch = patch.pop("metadata", None) or {}
            new = _merge_patch(new, patch)
            for field in ("labels", "annotations", "finalizers"):
                if field in meta_patch:
                    new["metadata"][field] = _merge_patch(new["metadata"].get(field), meta_patch[field])
        self._finish(kind, new)
        if new == old:
            return copy.deepcopy(old)  # a no-op write does not bump resourceVersion
        if _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if dry_run:
            return new
        new["metadata"]["resourceVersion"] = self._bump()
        self._store[key] = new
        self._emit(kind, "MODIFIED", new)
        return copy.deepcopy(new)

    def _delete(self, kind: Kind, ns: str | None, name: str) -> dict[str, Any]:
        key = self._key(kind, ns, name)
        obj = self._store.pop(key, None)
        if obj is None:
            raise not_found(kind, name)
        obj["metadata"]["resourceVersion"] = self._bump()
        self._emit(kind, "DELETED", obj)
        if kind.kind == "Namespace":
            # The namespace controller's job, done at once: everything inside goes with it.
            for other in [k for k in self._store if k[2] == name]:
                inner = self._store.pop(other, None)
                inner_kind = self._kinds.storage_kind(*other[:2])
                if inner is not None and inner_kind is not None:
                    inner["metadata"]["resourceVersion"] = self._bump()
                    self._emit(inner_kind, "DELETED", inner)
        if kind.kind == "Pod":
            for log in [k for k in self._pods_logs if k[:2] == (key[2], name)]:
                del self._pods_logs[log]
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        return obj

    # ---- watch --------------------------------------------------------------------------------

    async def _sim_watch(
        self, request: rendering.Request, kind: Kind, ns: str | None
    ) -> aiohttp.web.StreamResponse:
        params = request.params
        raw = request._raw_request
        assert raw is not None
        labels, fields = params.get("labelSelector"), params.get("fieldSelector")
        watcher = _Watcher(kind, ns, labels, fields, asyncio.Queue())
        if watcher.fields:
            field_selector_matches(watcher.fields, {})  # reject unknown fields before streaming
        timeout = min(float(params.get("timeoutSeconds") or _WATCH_MAX_SECONDS), _WATCH_MAX_SECONDS)
        since = params.get("resourceVersion") or "0"
        initial: list[tuple[str, dict[str, Any]]] = []
        # No await between the snapshot and the registration: no event can fall in between.
        if since == "0":
            for (group, plural, _, _), obj in sorted(self._store.items()):
                if (group, plural) == (kind.group, kind.plural) and self._watch_matches(watcher, kind, obj):
                    initial.append(("ADDED", copy.deepcopy(obj)))
        else:
            rv = int(since) if since.isdigit() else 0
            oldest = self._log[0][0] if self._log else self._rv
            if rv + 1 < oldest and len(self._log) == self._log.maxlen:
                initial.append(("ERROR", status_body(410, "Expired", f"too old resource version: {rv}")))
            else:
                initial.extend(
                    (event, obj)
                    for (erv, k, event, obj) in self._log
                    if erv > rv and self._watch_matches(watcher, k, obj)
                )
        self._watchers.add(watcher)
        resp = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        try:
            await resp.prepare(raw)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            for event, obj in initial:
                await resp.write(json.dumps({"type": event, "object": obj}).encode() + b"\n")
                if event == "ERROR":
                    return resp
            while (remaining := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    break
                if item is None:  # the emulator is stopping
                    break
                await resp.write(json.dumps({"type": item[0], "object": item[1]}).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        finally:
            self._watchers.discard(watcher)
        await resp.write_eof()
        return resp

    # ---- the emulator's own API (called on its loop) ----------------------------------------

    def set_status(self, kind: Kind, ns: str | None, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        key = self._key(kind, ns if kind.namespaced else None, name)
        obj = self._store.get(key)
        if obj is None:
            raise KeyError(f"{kind.kind} {ns}/{name} does not exist")
        obj["status"] = copy.deepcopy(dict(status))
        obj["metadata"]["resourceVersion"] = self._bump()
        self._log.append((self._rv, kind, "MODIFIED", copy.deepcopy(obj)))
        for w in list(self._watchers):
            if self._watch_matches(w, kind, obj):
                w.queue.put_nowait(("MODIFIED", copy.deepcopy(obj)))
        if self._controller is not None:
            self._controller.changed(kind, "MODIFIED", copy.deepcopy(obj), status_only=True)
        return copy.deepcopy(obj)

    def seed(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object as a controller would, status included (e.g. pods for a test)."""
        api_version = body.get("apiVersion")
        kind = self.kind(str(body.get("kind")), str(api_version) if api_version else None)
        ns = (body.get("metadata") or {}).get("namespace")
        obj = self._create(kind, body, ns, dry_run=False)
        if body.get("status") is not None:
            obj = self.set_status(kind, ns, obj["metadata"]["name"], body["status"])
        return obj

    def peek(self, kind: Kind, ns: str | None, name: str) -> dict[str, Any] | None:
        obj = self._store.get(self._key(kind, ns if kind.namespaced else None, name))
        return copy.deepcopy(obj) if obj is not None else None

    def kind(self, name: str, api_version: str | None = None) -> Kind:
        return self._kinds.lookup(name, api_version)

    def kinds(self) -> list[Kind]:
        return self._kinds.all()

    def stored(self, kind: Kind, namespace: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(obj)
            for (group, plural, ns, _), obj in self._store.items()
            if (group, plural, ns) == (kind.group, kind.plural, namespace)
        ]

    def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(kind, body, (body.get("metadata") or {}).get("namespace"), dry_run=False)

    def update_spec(self, kind: Kind, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        obj = self._store[self._key(kind, namespace, name)]
        obj["spec"] = copy.deepcopy(dict(spec))
        obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        obj["metadata"]["resourceVersion"] = self._bump()
        self._emit(kind, "MODIFIED", obj)

    def remove(self, kind: Kind, namespace: str, name: str) -> None:
        if self._key(kind, namespace, name) in self._store:
            self._delete(kind, namespace, name)

    def namespaces(self) -> list[str]:
        return sorted(k[3] for k in self._store if k[:2] == ("", "namespaces"))

    def write_log(self, namespace: str, pod: str, container: str, text: str, previous: bool) -> None:
        self._pods_logs[(namespace, pod, container, previous)] = text

    @property
    def impersonations(self) -> list[Impersonation]:
        return list(self._impersonations)

    def shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._controller is not None:
            self._controller.shutdown()
        for w in list(self._watchers):
            w.queue.put_nowait(None)

    # ---- the optional controller ------------------------------------------------------------

    def _schedule(self, kind: Kind, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        status = self._ready_status(kind, obj)
        if status is None or obj.get("status") == status:
            return
        key = self._key(kind, meta.get("namespace"), meta["name"])
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.ready_after, self._tick, kind, key)

    def _tick(self, kind: Kind, key: Key) -> None:
        self._timers.pop(key, None)
        obj = self._store.get(key)
        if obj is None:
            return
        status = self._ready_status(kind, obj)
        if status is not None:
            self.set_status(kind, key[2] or None, key[3], status)

    @staticmethod
    def _ready_status(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """What the storage and cloud controllers would report; workloads are `Controller`'s."""
        spec = obj.get("spec") or {}
        if kind.kind == "PersistentVolumeClaim":
            return {"phase": "Bound"}
        if kind.kind == "Service" and spec.get("type") == "LoadBalancer":
            return {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
        return None


def _route(path: str) -> parsing.ParsedPath:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    elif len(parts) == 2 and parts[0] == "apis":
        return parsing.ParsedPath(group=parts[1])
    else:
        return parsing.ParsedPath()
    ns = None
    # /namespaces/<ns>/<plural>... is a namespaced resource; /namespaces[/<name>[/status]] is
    # the cluster-scoped Namespace resource itself.
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        ns, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) or None
    return parsing.ParsedPath(group, version, plural, ns, name, sub)


class SimCluster:
    """The emulator on 127.0.0.1, served from its own thread and event loop, with a sync API."""

    def __init__(
        self, *, controllers: bool = False, ready_after: float = 0.5, authorizer: Authorizer | None = None
    ) -> None:
        """`controllers`: workloads get pods that run (see `kube_controller`), claims bind and
        load balancers get an address, each after `ready_after` seconds. `authorizer`: decides
        for impersonated requests (see `kube_auth`); `grant()` adds grants beside it."""
        self._controllers = controllers
        self._ready_after = ready_after
        self._authorizer = authorizer
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._emulator: Emulator | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> SimCluster:
        self._thread = threading.Thread(target=self._run, name="sim-kube", daemon=True)
        self._thread.start()
        # Bounded, with room for a loaded 2-core CI machine (its start is ~50 ms when idle).
        if not self._started.wait(timeout=30):
            raise RuntimeError("the Kubernetes emulator did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the Kubernetes emulator failed to start: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported to start(); the thread must not die silently
            self._error = e
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        # kmock creates asyncio objects in its constructor: build it inside the serving loop.
        emulator = Emulator(
            controllers=self._controllers, ready_after=self._ready_after, authorizer=self._authorizer
        )
        # A plain aiohttp server, not `kmock.Server`: that one also patches aiohttp's resolver
        # class-wide and must be exited strictly LIFO, which several emulators in several threads
        # cannot promise (the one exited out of order raised and leaked its socket and session).
        async with emulator:
            runner = aiohttp.web.ServerRunner(aiohttp.web.Server(emulator), shutdown_timeout=2.0)
            await runner.setup()
            try:
                site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                self._emulator = emulator
                self.url = f"http://127.0.0.1:{site.port}"
                self._started.set()
                await self._stopping.wait()
                emulator.shutdown()
                await asyncio.sleep(0)  # let the watch handlers see their end marker
            finally:
                await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("the Kubernetes emulator did not stop within 10 s")
        if self._error is not None and self._started.is_set() and self._emulator is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"the Kubernetes emulator failed while stopping: {error!r}") from error

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_loop(self, fn: Callable[[Emulator], Any]) -> Any:
        if self._loop is None or self._emulator is None:
            raise RuntimeError("the emulator is not running: call start() first")
        emulator = self._emulator

        async def call() -> Any:
            return fn(emulator)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def api_client(self) -> k8s_client.ApiClient:
        config = k8s_client.Configuration()
        config.host = self.url
        return k8s_client.ApiClient(config)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object of `kind` (a Kind or plural, in its preferred version)."""
        result: dict[str, Any] | None = self._on_loop(lambda e: e.peek(e.kind(kind), namespace, name))
        return result

    def list_objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every stored object of `kind` (in `namespace`, or all of them), sorted by key."""

        def read(e: Emulator) -> list[dict[str, Any]]:
            k = e.kind(kind)
            spaces = [namespace or ""] if namespace or not k.namespaced else e.namespaces()
            return [o for ns in spaces for o in sorted(e.stored(k, ns), key=lambda o: o["metadata"]["name"])]

        result: list[dict[str, Any]] = self._on_loop(read)
        return result

    def kinds(self) -> list[Kind]:
        """Every kind served now: the built-in ones and those of the stored CRDs."""
        result: list[Kind] = self._on_loop(lambda e: e.kinds())
        return result

    def put(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._on_loop(lambda e: e.seed(obj))
        return result

    def set_status(
        self, kind: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._on_loop(lambda e: e.set_status(e.kind(kind), namespace, name, status))
        return result

    def set_log(self, namespace: str, pod: str, container: str, text: str, previous: bool = False) -> None:
        """What `pods/log` answers for `container` (`previous`: its crashed predecessor)."""
        self._on_loop(lambda e: e.write_log(namespace, pod, container, text, previous))

    def grant(
        self, user: str, verbs: Iterable[str], resources: Iterable[str], namespace: str | None = None
    ) -> None:
        """Allow impersonated `user` (or group) `verbs` on `resources` ("pods", "pods/log",
        "roles.rbac.authorization.k8s.io", "*") in `namespace` (None: everywhere). From the first
        grant on, impersonated requests nothing allows are answered 403."""
        verbs, resources = list(verbs), list(resources)

        def add(e: Emulator) -> None:
            if e.grants is None:
                e.grants = Grants()
            e.grants.add(user, verbs, resources, namespace)

        self._on_loop(add)

    @property
    def impersonations(self) -> list[Impersonation]:
        """The `Impersonate-User`/`Impersonate-Group` headers of every request that had them."""
        if self._emulator is None:
            return []
        return self._emulator.impersonations

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` and `headers` (e.g. 429 with
        Retry-After; 0 drops the connection; 410 on a watch sends a Gone event and ends it)."""
        if self._emulator is None:
            raise RuntimeError("the emulator is not running: call start() first")
        fault = _Fault(method.upper(), re.compile(path_regex), status, body, times, dict(headers or {}))
        self._emulator.add_fault(fault)

    @property
    def requests(self) -> list[rendering.Request]:
        if self._emulator is None:
            return []
        return list(self._emulator._requests)


__all__ = ["LOAD_BALANCER_IP", "ApiError", "Attributes", "Emulator", "Impersonation", "Kind", "SimCluster"]
