"""A cluster port in memory, for the executor's logic (ordering, outputs, resume, faults).

It stores what was applied and, like the emulator's optional controller, gives workloads a ready
status on apply unless a test holds them back or breaks them. Readiness is never scripted as an
answer: `wait_ready` runs the same pure rules as `KubeCluster` (`bot.core.readiness`) over the
stored objects and their pods, on a virtual clock, so a grace of 20 s costs no real time.
tests/kube/test_readiness_contract.py runs the same scenarios against both, so this double
cannot claim behaviour production lacks.
"""

from __future__ import annotations

import base64
import copy
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.core import readiness
from bot.core.guardrails import Ownership
from bot.core.ports import ClusterError, ObjectRef, PodLog, Readiness
from bot.core.readiness import FailFast

LOAD_BALANCER_IP = "192.0.2.10"  # TEST-NET-1, as the emulator hands out

# (apiVersion, kind) -> namespaced? The built-in kinds the executor and the examples use.
SCOPES: dict[tuple[str, str], bool] = {
    ("v1", "Namespace"): False,
    ("v1", "Pod"): True,
    ("v1", "Service"): True,
    ("v1", "Secret"): True,
    ("v1", "ConfigMap"): True,
    ("v1", "PersistentVolumeClaim"): True,
    ("v1", "ServiceAccount"): True,
    ("apps/v1", "Deployment"): True,
    ("apps/v1", "StatefulSet"): True,
    ("apps/v1", "DaemonSet"): True,
    ("batch/v1", "Job"): True,
    ("batch/v1", "CronJob"): True,
    ("networking.k8s.io/v1", "Ingress"): True,
    ("networking.k8s.io/v1", "NetworkPolicy"): True,
    ("rbac.authorization.k8s.io/v1", "Role"): True,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): True,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): False,
    ("storage.k8s.io/v1", "StorageClass"): False,
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): False,
}


def key(ref: ObjectRef) -> tuple[str, str, str]:
    return (ref.kind, ref.namespace or "", ref.name)


def ready_status(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The status a healthy controller would end with; None for kinds without one."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    gen = int((obj.get("metadata") or {}).get("generation") or 1)
    n = int(spec.get("replicas", 1))
    if kind == "Deployment":
        return {"observedGeneration": gen, "replicas": n, "updatedReplicas": n, "availableReplicas": n}
    if kind == "StatefulSet":
        return {
            "observedGeneration": gen,
            "replicas": n,
            "readyReplicas": n,
            "updatedReplicas": n,
            "currentRevision": "r1",
            "updateRevision": "r1",
        }
    if kind == "Job":
        return {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    if kind == "PersistentVolumeClaim":
        return {"phase": "Bound"}
    if kind == "Service" and spec.get("type") == "LoadBalancer":
        return {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
    return None


def stalled_status(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A rollout that started and has no ready pod."""
    n = int((obj.get("spec") or {}).get("replicas", 1))
    gen = int((obj.get("metadata") or {}).get("generation") or 1)
    return {
        "observedGeneration": gen,
        "replicas": n,
        "updatedReplicas": n,
        "availableReplicas": 0,
        "readyReplicas": 0,
    }


def broken_pod(
    workload: Mapping[str, Any], reason: str, *, message: str = "", restarts: int = 0
) -> dict[str, Any]:
    """A pod of `workload` stuck with `reason` (a container waiting reason, or "Unschedulable")."""
    meta = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    labels = dict((spec.get("selector") or {}).get("matchLabels") or {})
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    name = str(containers[0].get("name") or "main")
    image = str(containers[0].get("image") or "?")
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{meta.get('name')}-0", "namespace": meta.get("namespace"), "labels": labels},
    }
    if reason == "Unschedulable":
        cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message}
        pod["status"] = {"phase": "Pending", "conditions": [cond]}
        return pod
    waiting = {"reason": reason, **({"message": message} if message else {})}
    cs = {"name": name, "image": image, "restartCount": restarts, "state": {"waiting": waiting}}
    pod["status"] = {"phase": "Pending", "containerStatuses": [cs]}
    return pod


def _selected(selector: str, labels: Mapping[str, Any]) -> bool:
    # `readiness.pod_selector` builds matchLabels terms only: "k=v,k2=v2".
    terms = [t.split("=", 1) for t in selector.split(",") if t]
    return all(labels.get(k) == v for k, v in terms)


class ScriptedCluster:
    def __init__(
        self, name: str = "dev-cluster", *, controllers: bool = True, fail_fast: FailFast | None = None
    ) -> None:
        self.name = name
        self.controllers = controllers  # False: statuses come only from put/set_status
        self.fail_fast = fail_fast or FailFast()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.held: dict[tuple[str, str], str | None] = {}  # (kind, name) -> pod reason, or None
        self.pod_message: dict[tuple[str, str], tuple[str, int]] = {}  # (kind, name) -> (message, restarts)
        self.faults: dict[tuple[str, str], ClusterError] = {}  # (verb, kind/name) -> error
        self.lb_ingress: dict[str, str] = {}  # service name -> external IP
        self.scopes: dict[tuple[str, str], bool | None] = dict(SCOPES)
        # For kinds not in the table; None makes every other kind "not served".
        self.default_scope: bool | None = True
        self.on_apply: Callable[[dict[str, Any]], None] | None = None
        # (namespace, pod, container, previous) -> what the kubelet has logged
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self.lock = threading.Lock()

    # -- scripting ------------------------------------------------------------------------------

    def hold(self, kind: str, name: str) -> None:
        """Applies of this workload never become ready (no pod says why)."""
        self.held[(kind, name)] = None

    def break_rollout(
        self, kind: str, name: str, reason: str, *, message: str = "", restarts: int = 0
    ) -> None:
        """Applies of this workload get a pod stuck with `reason`, as a kubelet would report it."""
        self.held[(kind, name)] = reason
        self.pod_message[(kind, name)] = (message, restarts)

    def release(self, kind: str, name: str) -> None:
        self.held.pop((kind, name), None)

    def put(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Store an object as a controller would, status included (same call as `SimCluster.put`)."""
        stored = dict(obj)
        self.objects[key(ObjectRef.of(stored))] = stored
        return stored

    def set_status(
        self, kind: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        obj = self.objects[(kind, namespace or "", name)]
        obj["status"] = dict(status)
        return obj

    def set_log(self, namespace: str, pod: str, container: str, text: str, previous: bool = False) -> None:
        """What `pod_logs` reads for `container` (`previous`: its crashed predecessor), as
        `SimCluster.set_log`."""
        self.logs[(namespace, pod, container, previous)] = text

    def _fault(self, verb: str, what: str) -> None:
        err = self.faults.pop((verb, what), None)
        if err is not None:
            raise err

    # -- the port --------------------------------------------------------------------------------

    def ensure_namespace(self, name: str, labels: Mapping[str, str]) -> None:
        self.calls.append(("namespace", name))
        self.namespaces[name] = dict(labels)

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        ref = ObjectRef.of(obj)
        self._fault("apply", f"{ref.kind}/{ref.name}")
        if self.scope(ref.api_version, ref.kind) is None:
            raise ClusterError(f"cluster {self.name} does not serve {ref.kind} in {ref.api_version}")
        with self.lock:
            self.calls.append(("apply", f"{ref.kind}/{ref.namespace}/{ref.name}"))
            stored = dict(obj)
            if ref.kind == "Secret" and "stringData" in obj:
                data = {k: base64.b64encode(str(v).encode()).decode() for k, v in obj["stringData"].items()}
                stored = {k: v for k, v in obj.items() if k != "stringData"}
                stored["data"] = {**(self.objects.get(key(ref), {}).get("data") or {}), **data}
            self._control(ref, stored)
            self.objects[key(ref)] = stored
        if self.on_apply:
            self.on_apply(stored)
        return stored

    def _control(self, ref: ObjectRef, stored: dict[str, Any]) -> None:
        if not self.controllers:
            return
        if (ref.kind, ref.name) not in self.held:
            status = ready_status(stored)
            if status is not None:
                stored["status"] = status
            return
        stored["status"] = stalled_status(stored)
        reason = self.held[(ref.kind, ref.name)]
        if reason is not None:
            message, restarts = self.pod_message.get((ref.kind, ref.name), ("", 0))
            self.put(broken_pod(stored, reason, message=message, restarts=restarts))

    def _pods(self, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        selector = readiness.pod_selector(obj) or ""
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        return [
            o
            for (kind, pod_ns, _), o in sorted(self.objects.items())
            if kind == "Pod"
            and pod_ns == ns
            and _selected(selector, (o.get("metadata") or {}).get("labels") or {})
        ]

    def wait_ready(
        self,
        ref: ObjectRef,
        *,
        timeout: float,
        on_progress: Callable[[str], None] | None = None,
        fail_fast: FailFast | None = None,
    ) -> Readiness:
        """`KubeCluster`'s schedule on a virtual clock: a look at the object and, while it is not
        ready, its pods at 0 s and then every `pod_check_interval` until `timeout`."""
        self.calls.append(("wait", f"{ref.kind}/{ref.name}"))
        rules = fail_fast or self.fail_fast
        judge = readiness.RolloutJudge(rules)
        now, last_line = 0.0, None
        state = Readiness(ready=False, message="not seen yet")
        for _ in range(2 + math.ceil(timeout / rules.pod_check_interval)):
            obj = self.objects.get(key(ref))
            pods = self._pods(obj) if obj is not None and judge.wants_pods(obj) else None
            state = judge.judge(obj, now=now, pods=pods)
            line = judge.line(obj)
            if not state.ready and line is not None and line != last_line and on_progress is not None:
                last_line = line
                on_progress(line)
            if state.ready or state.failed or now >= timeout:
                break
            now = min(float(timeout), now + rules.pod_check_interval)
        if not (state.ready or state.failed) and self.objects.get(key(ref)) is None:
            return Readiness(ready=False, message="does not exist")
        return state

    def scope(self, api_version: str, kind: str) -> bool | None:
        return self.scopes.get((api_version, kind), self.default_scope)

    def namespace_owner(self, name: str) -> Ownership:
        if name not in self.namespaces:
            return Ownership(exists=False)
        labels = self.namespaces[name]
        managed = labels.get("app.kubernetes.io/managed-by") == "appprofile"
        return Ownership(
            exists=True,
            managed=managed,
            deployment=labels.get("appprofile.dev/deployment") if managed else None,
        )

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        obj = self.objects.get(("Secret", namespace, name))
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    def read(self, ref: ObjectRef) -> dict[str, Any] | None:
        if self.scope(ref.api_version, ref.kind) is None:
            return None
        with self.lock:
            obj = self.objects.get(key(ref))
            return copy.deepcopy(obj) if obj is not None else None

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
        # Gone, or of a kind not served: both already what a delete wants (as `KubeCluster`).
        gone = self.objects.pop(key(ref), None)
        if gone is not None and readiness.pod_selector(gone) is not None:
            for pod in self._pods(gone):  # the garbage collector takes the workload's pods along
                self.objects.pop(key(ObjectRef.of(pod)), None)

    def pod_logs(self, namespace: str, selector: Mapping[str, str], *, lines: int) -> list[PodLog]:
        """`KubeCluster.pod_logs` over the stored pods: each container's last lines, the previous
        container's first when it restarted; what the kubelet says instead of a log as the note."""
        self._fault("logs", namespace)
        self.calls.append(("logs", namespace))
        wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = [
            o
            for (kind, ns, _), o in sorted(self.objects.items())
            if kind == "Pod"
            and ns == namespace
            and _selected(wanted, (o.get("metadata") or {}).get("labels") or {})
        ]
        out: list[PodLog] = []
        for pod in pods:
            name = str(pod["metadata"]["name"])
            statuses = {
                str(s.get("name")): s for s in (pod.get("status") or {}).get("containerStatuses") or []
            }
            containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
            for container in containers or list(statuses):
                status = statuses.get(container) or {}
                if int(status.get("restartCount") or 0) > 0:
                    before = self.logs.get((namespace, name, container, True))
                    if before is not None:  # else: "previous terminated container … not found"
                        out.append(
                            PodLog(pod=name, container=container, previous=True, text=_tail(before, lines))
                        )
                text = self.logs.get((namespace, name, container, False))
                waiting = (status.get("state") or {}).get("waiting")
                if text is None and waiting:
                    reason = str(waiting.get("reason") or "")
                    why = "trying and failing to pull image" if "Pull" in reason else reason
                    note = f'container "{container}" in pod "{name}" is waiting to start: {why}'
                    out.append(PodLog(pod=name, container=container, note=note))
                    continue
                out.append(PodLog(pod=name, container=container, text=_tail(text or "", lines)))
        return out


def _tail(text: str, lines: int) -> str:
    return "".join(text.splitlines(keepends=True)[-max(1, lines) :])
