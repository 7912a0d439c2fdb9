"""The emulator's pod controller: workloads get pods, pods get a kubelet-like life, and the
workloads' status follows their pods, so readiness code and pod diagnostics see what a cluster
shows.

Deployment → ReplicaSet (`<name>-<template hash>`) → Pods; StatefulSet → `<name>-<ordinal>`;
DaemonSet → one pod (the simulated cluster has one node); Job → pods that succeed. A pod's
containers start `ready_after` seconds after it is created, except images tagged `:nopull`
(ErrImagePull, then ImagePullBackOff) and `:crash` (CrashLoopBackOff with a growing restartCount),
which retry with a growing back-off, forever. Simplified on purpose: a template change replaces
all pods at once (no surge or maxUnavailable), Job pods behave as restartPolicy OnFailure (a
crashing Job stays active), no scheduling, probes or resources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from sandbox.kube_kinds import Kind

NODE = "sim-node-1"
WORKLOADS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")
MAX_BACKOFF_STEPS = 5  # back-off doubles up to 2**5 times ready_after, as the kubelet's caps
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names


class Store(Protocol):
    """What the controller needs from the emulator (all calls on the emulator's loop)."""

    ready_after: float

    def kind(self, name: str) -> Kind: ...
    def peek(self, kind: Kind, ns: str | None, name: str) -> dict[str, Any] | None: ...
    def stored(self, kind: Kind, namespace: str) -> list[dict[str, Any]]: ...
    def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def update_spec(self, kind: Kind, namespace: str, name: str, spec: Mapping[str, Any]) -> None: ...
    def remove(self, kind: Kind, namespace: str, name: str) -> None: ...
    def set_status(
        self, kind: Kind, ns: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]: ...
    def write_log(self, namespace: str, pod: str, container: str, text: str, previous: bool) -> None: ...


# ---- pure helpers --------------------------------------------------------------------------------


def short_hash(value: Any, n: int = 10) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


def owner_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((dict(r) for r in refs if isinstance(r, dict) and r.get("controller")), None)


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("uid") == uid for r in refs)


def image_tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]


def log_text(pod: str, container: Mapping[str, Any], outcome: str) -> str:
    """The deterministic log of one run of a container: "ok", "crash" or "done" (a Job's)."""
    name, image = container.get("name", "app"), container.get("image", "")
    ports = [p.get("containerPort") for p in container.get("ports") or [] if isinstance(p, dict)]
    lines = [f"{name}: starting {image} in pod {pod}"]
    if outcome == "crash":
        lines.append(f"{name}: error: simulated crash (image tag :crash); exiting with code 1")
    elif outcome == "done":
        lines.append(f"{name}: work done; exiting with code 0")
    else:
        lines += [f"{name}: listening on :{ports[0] if ports else 8080}", f"{name}: ready"]
    return "\n".join(lines) + "\n"


def new_pod(
    owner: Mapping[str, Any], name: str, template: Mapping[str, Any], labels: Mapping[str, str]
) -> dict[str, Any]:
    """A pod for `owner` from its pod template, placed on the one simulated node."""
    meta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": {**(meta.get("labels") or {}), **labels},
        "ownerReferences": [owner_ref(owner)],
    }
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    spec = {**(template.get("spec") or {}), "nodeName": NODE}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def pending_status(pod: Mapping[str, Any]) -> dict[str, Any]:
    waiting = {"waiting": {"reason": "ContainerCreating"}}
    return {
        "phase": "Pending",
        "hostIP": "10.0.0.1",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
        ],
        "containerStatuses": [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": waiting,
            }
            for c in containers(pod)
        ],
    }


def _waiting(reason: str, message: str) -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": message}}


def container_status(
    pod: Mapping[str, Any], c: Mapping[str, Any], attempt: int, *, job: bool, now: str
) -> tuple[dict[str, Any], str | None]:
    """One container's status at its `attempt`-th start (from 1), and the outcome it logs."""
    image = str(c.get("image") or "")
    status: dict[str, Any] = {"name": c.get("name"), "image": image, "imageID": "", "ready": False}
    status.update(started=False, restartCount=0, lastState={})
    tag = image_tag(image)
    if tag == "nopull":
        # The kubelet alternates: a pull fails (ErrImagePull), then it backs off before the next.
        state = (
            _waiting("ErrImagePull", f'failed to pull and unpack image "{image}": not found')
            if attempt % 2
            else _waiting("ImagePullBackOff", f'Back-off pulling image "{image}"')
        )
        return {**status, "state": state}, None
    if tag == "crash":
        meta = pod["metadata"]
        backoff = min(10 * 2 ** (attempt - 1), 300)  # what a kubelet would say, not the sim's timing
        message = f"back-off {backoff}s restarting failed container={c.get('name')} pod={meta['name']}_{meta['namespace']}"
        terminated = {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}
        status.update(restartCount=attempt, started=False, lastState={"terminated": terminated})
        return {**status, "state": _waiting("CrashLoopBackOff", message)}, "crash"
    if job:
        done = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}
        return {**status, "state": done}, "done"
    return {**status, "ready": True, "started": True, "state": {"running": {"startedAt": now}}}, "ok"


def pod_status(
    pod: Mapping[str, Any], statuses: list[dict[str, Any]], *, job: bool, ip: str
) -> dict[str, Any]:
    unready = [str(s["name"]) for s in statuses if not s["ready"]]
    done = job and all(
        "terminated" in s["state"] and s["state"]["terminated"]["exitCode"] == 0 for s in statuses
    )
    ran = any(s["ready"] or s["lastState"] or "terminated" in s["state"] for s in statuses) or not statuses
    ready = {"type": "Ready", "status": "True"}
    if done:
        ready = {"type": "Ready", "status": "False", "reason": "PodCompleted"}
    elif unready:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{' '.join(unready)}]",
        }
    status: dict[str, Any] = {
        "phase": "Succeeded" if done else "Running" if ran else "Pending",
        "hostIP": "10.0.0.1",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            ready,
            {**ready, "type": "ContainersReady"},
        ],
        "containerStatuses": statuses,
    }
    if ran:
        status["podIP"] = ip
    return status
