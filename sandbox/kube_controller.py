"""The controllers behind `SimCluster(controllers=True)`: workloads make pods (see `kube_pods`),
pods run on a timer, owners' status follows their pods, and deleting an owner deletes what it
made (ReplicaSets and Pods; garbage collection of other kinds is not emulated).

Every reaction is deferred with `call_soon` and coalesced per object, so a write never re-enters
the store from inside another write, and a burst of pod updates costs one sync of their owner.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from sandbox import kube_pods as pods
from sandbox.kube_kinds import Kind

SyncKey = tuple[str, str, str]  # (workload kind, namespace, name)
PodKey = tuple[str, str]  # (namespace, name)


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _replicas(obj: Mapping[str, Any]) -> int:
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


class Controller:
    def __init__(self, store: pods.Store) -> None:
        self._store = store
        self._pending: set[SyncKey] = set()
        self._timers: dict[PodKey, asyncio.TimerHandle] = {}
        self._attempts: dict[PodKey, int] = {}
        self._ips = itertools.count(2)
        self._syncs: dict[str, Callable[[Kind, dict[str, Any]], None]] = {
            "Deployment": self._sync_deployment,
            "ReplicaSet": self._sync_replicaset,
            "StatefulSet": self._sync_statefulset,
            "DaemonSet": self._sync_daemonset,
            "Job": self._sync_job,
        }

    # ---- entry points (the emulator calls these after each stored change) -----------------

    def changed(self, kind: Kind, event: str, obj: Mapping[str, Any], *, status_only: bool = False) -> None:
        meta = obj["metadata"]
        ns = str(meta.get("namespace") or "")
        owner = pods.controller_of(obj)
        if event == "DELETED":
            self._forget(kind, obj)
        elif (kind.group, kind.kind) == ("", "Pod") and event == "ADDED" and owner:
            asyncio.get_running_loop().call_soon(self._admit, (ns, str(meta["name"])))
        if self._is_workload(kind) and not status_only and event != "DELETED":
            self._queue((kind.kind, ns, str(meta["name"])))
        if owner and owner.get("kind") in pods.WORKLOADS:
            self._queue((str(owner["kind"]), ns, str(owner["name"])))

    def shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    @staticmethod
    def _is_workload(kind: Kind) -> bool:
        return kind.kind in pods.WORKLOADS and kind.group in ("apps", "batch")

    def _queue(self, key: SyncKey) -> None:
        if key not in self._pending:
            self._pending.add(key)
            asyncio.get_running_loop().call_soon(self._sync, key)

    def _sync(self, key: SyncKey) -> None:
        self._pending.discard(key)
        kind = self._store.kind(key[0])
        obj = self._store.peek(kind, key[1], key[2])
        if obj is not None:
            self._syncs[key[0]](kind, obj)

    def _forget(self, kind: Kind, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        key = (str(meta.get("namespace") or ""), str(meta["name"]))
        if (kind.group, kind.kind) == ("", "Pod"):
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            self._attempts.pop(key, None)
        if not key[0]:
            return
        for child_kind in (self._store.kind("ReplicaSet"), self._store.kind("Pod")):
            for child in self._children(child_kind, key[0], str(meta.get("uid"))):
                self._store.remove(child_kind, key[0], child["metadata"]["name"])

    def _children(self, kind: Kind, ns: str, uid: str) -> list[dict[str, Any]]:
        return [o for o in self._store.stored(kind, ns) if pods.owned_by(o, uid)]

    def _publish(self, kind: Kind, obj: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        if obj.get("status") != status:
            meta = obj["metadata"]
            self._store.set_status(kind, meta.get("namespace"), meta["name"], status)

    # ---- pods: a kubelet on a timer ---------------------------------------------------------

    def _admit(self, key: PodKey) -> None:
        pod_kind = self._store.kind("Pod")
        pod = self._store.peek(pod_kind, *key)
        if pod is None or key in self._attempts:
            return
        self._attempts[key] = 0
        self._store.set_status(pod_kind, key[0], key[1], pods.pending_status(pod))
        self._later(key, self._store.ready_after)

    def _later(self, key: PodKey, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._run_pod, key)

    def _run_pod(self, key: PodKey) -> None:
        self._timers.pop(key, None)
        pod_kind = self._store.kind("Pod")
        pod = self._store.peek(pod_kind, *key)
        if pod is None:
            return
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        job = (pods.controller_of(pod) or {}).get("kind") == "Job"
        now, statuses, failing = _now(), [], False
        for c in pods.containers(pod):
            status, outcome = pods.container_status(pod, c, attempt, job=job, now=now)
            statuses.append(status)
            failing = failing or outcome in (None, "crash")
            if outcome is not None:
                self._log(pod, c, outcome)
        ip = ((pod.get("status") or {}).get("podIP")) or f"10.244.0.{next(self._ips) % 250 + 2}"
        self._store.set_status(pod_kind, key[0], key[1], pods.pod_status(pod, statuses, job=job, ip=ip))
        if failing:  # retried with a growing back-off, as the kubelet does
            self._later(key, self._store.ready_after * 2 ** min(attempt, pods.MAX_BACKOFF_STEPS))

    def _log(self, pod: Mapping[str, Any], c: Mapping[str, Any], outcome: str) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        text = pods.log_text(name, c, outcome)
        if outcome == "crash":
            # The crashed run is the previous container; the restarted one has logged its start.
            self._store.write_log(ns, name, str(c.get("name")), text, True)
        self._store.write_log(ns, name, str(c.get("name")), text, False)

    # ---- workloads --------------------------------------------------------------------------

    def _make_pods(
        self, owner: Mapping[str, Any], names: list[str], labels: Callable[[str], Mapping[str, str]]
    ) -> None:
        pod_kind = self._store.kind("Pod")
        template = _spec(owner).get("template") or {}
        for name in names:
            self._store.create(pod_kind, pods.new_pod(owner, name, template, labels(name)))

    def _remove_pods(self, ns: str, names: list[str]) -> None:
        pod_kind = self._store.kind("Pod")
        for name in names:
            self._store.remove(pod_kind, ns, name)

    def _owned_pods(self, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = owner["metadata"]
        return self._children(self._store.kind("Pod"), meta["namespace"], meta["uid"])

    @staticmethod
    def _names(owner: Mapping[str, Any], count: int, taken: set[str]) -> list[str]:
        """`count` new pod names `<owner>-<5 chars>`, stable for the owner (so tests can read)."""
        meta = owner["metadata"]
        names: list[str] = []
        # Bounded: at most len(taken) candidates collide. A scale-down asks for a negative count:
        # none (this loop used to spin forever on it, freezing the emulator).
        for i in range(max(0, count) + len(taken)):
            if len(names) >= count:
                break
            name = f"{meta['name']}-{pods.short_hash([meta['uid'], i], 5)}"
            if name not in taken:
                names.append(name)
        return names

    def _scale(self, owner: Mapping[str, Any], want: int, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        current = sorted(self._owned_pods(owner), key=lambda p: str(p["metadata"]["name"]))
        names = {str(p["metadata"]["name"]) for p in current}
        self._remove_pods(owner["metadata"]["namespace"], [p["metadata"]["name"] for p in current[want:]])
        self._make_pods(owner, self._names(owner, want - len(current), names), lambda _: labels)
        return self._owned_pods(owner)

    def _sync_replicaset(self, kind: Kind, rs: dict[str, Any]) -> None:
        labels = dict(((_spec(rs).get("template") or {}).get("metadata") or {}).get("labels") or {})
        found = self._scale(rs, _replicas(rs), labels)
        ready = sum(pods.pod_ready(p) for p in found)
        status = {
            "observedGeneration": rs["metadata"].get("generation", 1),
            "replicas": len(found),
            "fullyLabeledReplicas": len(found),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        self._publish(kind, rs, status)

    def _sync_deployment(self, kind: Kind, dep: dict[str, Any]) -> None:
        rs_kind = self._store.kind("ReplicaSet")
        template = dict(_spec(dep).get("template") or {})
        h = pods.short_hash(template)
        name, ns, uid = dep["metadata"]["name"], dep["metadata"]["namespace"], dep["metadata"]["uid"]
        current = None
        for rs in self._children(rs_kind, ns, uid):
            if rs["metadata"]["name"] == f"{name}-{h}":
                current = rs
            else:  # a template change replaces the old ReplicaSet at once (no surge emulated)
                self._store.remove(rs_kind, ns, rs["metadata"]["name"])
        if current is None:
            current = self._store.create(rs_kind, self._replicaset_for(dep, h, template))
        elif _replicas(current) != _replicas(dep):
            self._store.update_spec(
                rs_kind, ns, current["metadata"]["name"], {**_spec(current), "replicas": _replicas(dep)}
            )
        self._publish(
            kind, dep, deployment_status(dep, current["metadata"]["name"], self._owned_pods(current))
        )

    def _replicaset_for(self, dep: Mapping[str, Any], h: str, template: dict[str, Any]) -> dict[str, Any]:
        tmeta = dict(template.get("metadata") or {})
        labels = {**(tmeta.get("labels") or {}), "pod-template-hash": h}
        selector = dict((_spec(dep).get("selector") or {}).get("matchLabels") or {})
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{dep['metadata']['name']}-{h}",
                "namespace": dep["metadata"]["namespace"],
                "labels": labels,
                "ownerReferences": [pods.owner_ref(dep)],
            },
            "spec": {
                "replicas": _replicas(dep),
                "selector": {"matchLabels": {**selector, "pod-template-hash": h}},
                "template": {**template, "metadata": {**tmeta, "labels": labels}},
            },
        }

    def _sync_statefulset(self, kind: Kind, sts: dict[str, Any]) -> None:
        name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
        revision = f"{name}-{pods.short_hash(_spec(sts).get('template') or {})}"
        want = [f"{name}-{i}" for i in range(_replicas(sts))]
        outdated = [
            p["metadata"]["name"]
            for p in self._owned_pods(sts)
            if p["metadata"]["name"] not in want
            or (p["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
        ]
        self._remove_pods(ns, outdated)
        have = {p["metadata"]["name"] for p in self._owned_pods(sts)}
        base = dict(((_spec(sts).get("template") or {}).get("metadata") or {}).get("labels") or {})

        def labels(pod: str) -> dict[str, str]:
            index = pod.rsplit("-", 1)[1]
            extra = {"statefulset.kubernetes.io/pod-name": pod, "apps.kubernetes.io/pod-index": index}
            return {**base, "controller-revision-hash": revision, **extra}

        self._make_pods(sts, [n for n in want if n not in have], labels)
        self._publish(kind, sts, statefulset_status(sts, revision, self._owned_pods(sts)))

    def _sync_daemonset(self, kind: Kind, ds: dict[str, Any]) -> None:
        template = _spec(ds).get("template") or {}
        h = pods.short_hash(template)
        base = dict((template.get("metadata") or {}).get("labels") or {})
        current = self._owned_pods(ds)
        stale = [
            p["metadata"]["name"]
            for p in current
            if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != h
        ]
        self._remove_pods(ds["metadata"]["namespace"], stale)
        # One pod: the simulated cluster has one node.
        self._scale(ds, 1, {**base, "controller-revision-hash": h})
        self._publish(kind, ds, daemonset_status(ds, h, self._owned_pods(ds)))

    def _sync_job(self, kind: Kind, job: dict[str, Any]) -> None:
        spec, meta = _spec(job), job["metadata"]
        completions, parallelism = int(spec.get("completions") or 1), int(spec.get("parallelism") or 1)
        found = self._owned_pods(job)
        active = [p for p in found if pods.phase(p) not in ("Succeeded", "Failed")]
        room = 0 if spec.get("suspend") else min(parallelism - len(active), completions - len(found))
        base = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels = {**base, "job-name": meta["name"], "batch.kubernetes.io/job-name": meta["name"]}
        labels.update({"controller-uid": meta["uid"], "batch.kubernetes.io/controller-uid": meta["uid"]})
        taken = {str(p["metadata"]["name"]) for p in found}
        self._make_pods(job, self._names(job, max(room, 0), taken), lambda _: labels)
        self._publish(kind, job, job_status(job, self._owned_pods(job)))


# ---- workload status from pods ------------------------------------------------------------------


def deployment_status(dep: Mapping[str, Any], rs_name: str, current: list[dict[str, Any]]) -> dict[str, Any]:
    want = _replicas(dep)
    available = sum(pods.pod_ready(p) for p in current)
    done = len(current) == want and available == want
    progressing = {
        "type": "Progressing",
        "status": "True",
        "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
        "message": f'ReplicaSet "{rs_name}" '
        + ("has successfully progressed." if done else "is progressing."),
    }
    availability = (
        {
            "type": "Available",
            "status": "True",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
        }
        if available >= want
        else {
            "type": "Available",
            "status": "False",
            "reason": "MinimumReplicasUnavailable",
            "message": "Deployment does not have minimum availability.",
        }
    )
    status: dict[str, Any] = {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": len(current),
        "updatedReplicas": len(current),
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [availability, progressing],
    }
    if want > available:
        status["unavailableReplicas"] = want - available
    return status


def statefulset_status(sts: Mapping[str, Any], revision: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    ready = sum(pods.pod_ready(p) for p in found)
    updated = sum(
        (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision for p in found
    )
    previous = (sts.get("status") or {}).get("currentRevision")
    current = revision if updated == len(found) == _replicas(sts) or not previous else previous
    return {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(found),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": updated if current == revision else len(found) - updated,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": revision,
        "collisionCount": 0,
    }


def daemonset_status(ds: Mapping[str, Any], h: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    ready = sum(pods.pod_ready(p) for p in found)
    updated = sum((p["metadata"].get("labels") or {}).get("controller-revision-hash") == h for p in found)
    return {
        "observedGeneration": ds["metadata"].get("generation", 1),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": len(found),
        "updatedNumberScheduled": updated,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        **({"numberUnavailable": 1 - ready} if ready < 1 else {}),
    }


def job_status(job: Mapping[str, Any], found: list[dict[str, Any]]) -> dict[str, Any]:
    old = dict(job.get("status") or {})
    completions = int(_spec(job).get("completions") or 1)
    succeeded = sum(pods.phase(p) == "Succeeded" for p in found)
    active = [p for p in found if pods.phase(p) not in ("Succeeded", "Failed")]
    status: dict[str, Any] = {
        "startTime": old.get("startTime") or _now(),
        "active": len(active),
        "ready": sum(pods.pod_ready(p) for p in active),
        "succeeded": succeeded,
        "failed": 0,
    }
    if succeeded >= completions:
        status["completionTime"] = old.get("completionTime") or _now()
        status["conditions"] = [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True"},
        ]
    return status
