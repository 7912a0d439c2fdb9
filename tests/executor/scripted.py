"""A cluster port with scripted states, for the executor's logic (ordering, outputs, resume, faults).

It stores what was applied, answers readiness from a script (per object: ready, failed, or
never ready), and can raise ClusterErrors on chosen calls. The wire contract of the real adapter
is tested separately against the emulator in tests/kube.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.core.ports import ClusterError, ObjectRef, Readiness


def key(ref: ObjectRef) -> tuple[str, str, str]:
    return (ref.kind, ref.namespace or "", ref.name)


class ScriptedCluster:
    def __init__(self, name: str = "dev-cluster") -> None:
        self.name = name
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.readiness: dict[tuple[str, str], Readiness] = {}  # (kind, name) -> scripted result
        self.faults: dict[tuple[str, str], ClusterError] = {}  # (verb, kind/name) -> error
        self.lb_ingress: dict[str, str] = {}  # service name -> external IP
        self.on_apply: Callable[[dict[str, Any]], None] | None = None
        self.lock = threading.Lock()

    def _fault(self, verb: str, what: str) -> None:
        err = self.faults.pop((verb, what), None)
        if err is not None:
            raise err

    def ensure_namespace(self, name: str, labels: Mapping[str, str]) -> None:
        self.calls.append(("namespace", name))
        self.namespaces[name] = dict(labels)

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        ref = ObjectRef.of(obj)
        self._fault("apply", f"{ref.kind}/{ref.name}")
        with self.lock:
            self.calls.append(("apply", f"{ref.kind}/{ref.namespace}/{ref.name}"))
            stored = dict(obj)
            if ref.kind == "Secret" and "stringData" in obj:
                data = {k: base64.b64encode(str(v).encode()).decode() for k, v in obj["stringData"].items()}
                stored = {k: v for k, v in obj.items() if k != "stringData"}
                stored["data"] = {**(self.objects.get(key(ref), {}).get("data") or {}), **data}
            self.objects[key(ref)] = stored
        if self.on_apply:
            self.on_apply(stored)
        return stored

    def wait_ready(
        self, ref: ObjectRef, *, timeout: float, on_progress: Callable[[str], None] | None = None
    ) -> Readiness:
        self.calls.append(("wait", f"{ref.kind}/{ref.name}"))
        if on_progress:
            on_progress("0/1 ready")
        return self.readiness.get((ref.kind, ref.name), Readiness(ready=True))

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        obj = self.objects.get(("Secret", namespace, name))
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    def read_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get(("Service", namespace, name))
        if obj is None:
            return None
        ip = self.lb_ingress.get(name)
        status = {"loadBalancer": {"ingress": [{"ip": ip}]}} if ip else {}
        return {**obj, "status": status}

    def list_owned(self, deployment: str) -> list[ObjectRef]:
        return [
            ObjectRef.of(o)
            for o in self.objects.values()
            if (o.get("metadata", {}).get("labels") or {}).get("appprofile.dev/deployment") == deployment
        ]

    def delete(self, ref: ObjectRef) -> None:
        self._fault("delete", f"{ref.kind}/{ref.name}")
        self.calls.append(("delete", f"{ref.kind}/{ref.namespace}/{ref.name}"))
        self.objects.pop(key(ref), None)
