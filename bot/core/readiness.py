"""Is a Kubernetes object ready? Pure rules per kind over the object dict (status included).

The rules follow `kubectl rollout status` (which Argo CD's health checks copy): a status is
trusted only once `status.observedGeneration` has caught up with `metadata.generation`, so a
stale status from before the last apply is never mistaken for "done".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.ports import Readiness

# Waiting reasons that mean the pod will not start without a change from a person.
_STUCK_WAITING = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "ErrImageNeverPull",
    }
)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _conditions(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = status.get("conditions")
    return [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def _waiting(msg: str) -> Readiness:
    return Readiness(ready=False, message=msg)


def _failed(msg: str) -> Readiness:
    return Readiness(ready=False, failed=True, message=msg)


def _ready(msg: str = "ready") -> Readiness:
    return Readiness(ready=True, message=msg)


def _generation_seen(obj: Mapping[str, Any]) -> bool:
    generation = _int(_map(obj.get("metadata")).get("generation"))
    observed = _int(_map(obj.get("status")).get("observedGeneration"))
    return observed >= generation


def deployment(obj: Mapping[str, Any]) -> Readiness:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    if not _generation_seen(obj):
        return _waiting("waiting for the rollout to start (spec update not observed yet)")
    for cond in _conditions(status):
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            detail = str(cond.get("message") or "").strip()
            return _failed("rollout exceeded its progress deadline" + (f": {detail}" if detail else ""))
    want = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    current = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < want:
        return _waiting(f"{updated} of {want} new replicas updated")
    if current > updated:
        return _waiting(f"{current - updated} old replicas pending termination")
    if available < want:
        return _waiting(f"{available} of {want} replicas available")
    return _ready(f"{available}/{want} replicas available")


def stateful_set(obj: Mapping[str, Any]) -> Readiness:
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    strategy = _map(spec.get("updateStrategy"))
    if _int(status.get("observedGeneration")) == 0 or not _generation_seen(obj):
        return _waiting("waiting for the rollout to start (spec update not observed yet)")
    want = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < want:
        return _waiting(f"{ready} of {want} pods ready")
    if strategy.get("type") == "OnDelete":
        # Pods are replaced only when someone deletes them: nothing more to wait for.
        return _ready(f"{ready}/{want} pods ready")
    partition = _int(_map(strategy.get("rollingUpdate")).get("partition"))
    updated = _int(status.get("updatedReplicas"))
    if partition > 0:
        # Only pods with an ordinal >= partition are updated; the rest keep the old revision.
        if updated < want - partition:
            return _waiting(f"{updated} of {want - partition} pods updated (partition {partition})")
        return _ready(f"{ready}/{want} pods ready, partitioned rollout at {partition}")
    if status.get("updateRevision") != status.get("currentRevision"):
        return _waiting(f"{updated} of {want} pods updated to the new revision")
    return _ready(f"{ready}/{want} pods ready")


def job(obj: Mapping[str, Any]) -> Readiness:
    status = _map(obj.get("status"))
    for cond in _conditions(status):
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Failed":
            reason = str(cond.get("reason") or "Failed")
            detail = str(cond.get("message") or "").strip()
            return _failed(f"job failed ({reason})" + (f": {detail}" if detail else ""))
        if cond.get("type") == "Complete":
            return _ready("job complete")
    if _map(obj.get("spec")).get("suspend") is True:
        return _waiting("job is suspended")
    return _waiting(f"job running ({_int(status.get('active'))} active, {_int(status.get('failed'))} failed)")


def pvc(obj: Mapping[str, Any], *, binding_mode: str | None = None) -> Readiness:
    """`binding_mode` is the StorageClass's volumeBindingMode, which the PVC itself does not carry."""
    phase = _map(obj.get("status")).get("phase")
    if phase == "Bound":
        return _ready("volume bound")
    if phase == "Lost":
        return _failed("the volume behind this claim is lost")
    if binding_mode == "WaitForFirstConsumer":
        # Such a claim binds only once a pod uses it; blocking on it would deadlock the tier.
        return _ready("waits for its first consumer (WaitForFirstConsumer)")
    return _waiting("volume not bound yet")


def service(obj: Mapping[str, Any]) -> Readiness:
    if _map(obj.get("spec")).get("type") != "LoadBalancer":
        return _ready("service exists")
    ingress = _map(_map(obj.get("status")).get("loadBalancer")).get("ingress")
    if isinstance(ingress, list) and ingress:
        first = _map(ingress[0])
        address = first.get("ip") or first.get("hostname")
        if address:
            return _ready(f"load balancer at {address}")
    return _waiting("waiting for a load balancer address")


def evaluate(obj: Mapping[str, Any], *, binding_mode: str | None = None) -> Readiness:
    """Readiness of any object; kinds without a rule are ready once they exist."""
    kind = obj.get("kind")
    if kind == "Deployment":
        return deployment(obj)
    if kind == "StatefulSet":
        return stateful_set(obj)
    if kind == "Job":
        return job(obj)
    if kind == "PersistentVolumeClaim":
        return pvc(obj, binding_mode=binding_mode)
    if kind == "Service":
        return service(obj)
    return _ready("exists")


def progress_line(obj: Mapping[str, Any]) -> str | None:
    """A short "2/3 ready" line for workloads with replicas; None for other kinds."""
    if obj.get("kind") not in ("Deployment", "StatefulSet"):
        return None
    want = _int(_map(obj.get("spec")).get("replicas"), 1)
    status = _map(obj.get("status"))
    field = "availableReplicas" if obj.get("kind") == "Deployment" else "readyReplicas"
    return f"{_int(status.get(field))}/{want} ready"


def _container_problem(pod: str, cs: Mapping[str, Any]) -> str | None:
    container = str(cs.get("name") or "?")
    state = _map(cs.get("state"))
    waiting = _map(state.get("waiting"))
    reason = str(waiting.get("reason") or "")
    message = str(waiting.get("message") or "").strip()
    if reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"):
        line = f"pod {pod}: container {container} cannot pull image {cs.get('image') or '?'} ({reason})"
        return line + (f": {message}" if message else "")
    if reason == "CrashLoopBackOff":
        restarts = _int(cs.get("restartCount"))
        terminated = _map(_map(cs.get("lastState")).get("terminated"))
        line = f"pod {pod}: container {container} keeps crashing (CrashLoopBackOff, {restarts} restarts"
        if "exitCode" in terminated:
            line += f", last exit code {terminated.get('exitCode')}"
            if terminated.get("reason"):
                line += f" {terminated.get('reason')}"
        return line + ")"
    if reason in _STUCK_WAITING:
        return f"pod {pod}: container {container} cannot start ({reason})" + (
            f": {message}" if message else ""
        )
    return None


def pod_problems(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    """Human lines saying why pods do not become ready; empty when nothing is obviously wrong."""
    lines: list[str] = []
    for pod in pods:
        name = str(_map(pod.get("metadata")).get("name") or "?")
        status = _map(pod.get("status"))
        if status.get("phase") == "Pending":
            for cond in _conditions(status):
                if (
                    cond.get("type") == "PodScheduled"
                    and cond.get("status") == "False"
                    and cond.get("reason") == "Unschedulable"
                ):
                    detail = str(cond.get("message") or "").strip()
                    lines.append(f"pod {name}: cannot be scheduled" + (f": {detail}" if detail else ""))
        statuses = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for cs in statuses:
            if isinstance(cs, Mapping):
                line = _container_problem(name, cs)
                if line is not None:
                    lines.append(line)
        if status.get("phase") == "Failed" and status.get("reason"):
            lines.append(
                f"pod {name}: failed ({status.get('reason')}): {status.get('message') or ''}".rstrip(": ")
            )
    return lines
