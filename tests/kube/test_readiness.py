"""Readiness rules per kind over status fixtures (pure, no server)."""

from __future__ import annotations

from typing import Any

from bot.core import readiness


def deploy(generation: int = 2, want: int = 3, **status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "api", "generation": generation},
        "spec": {"replicas": want},
        "status": status,
    }


def test_deployment_progressing_then_ready() -> None:
    r = readiness.evaluate(deploy(observedGeneration=2, replicas=3, updatedReplicas=1, availableReplicas=1))
    assert (r.ready, r.failed) == (False, False)
    assert "1 of 3 new replicas updated" in r.message
    r = readiness.evaluate(deploy(observedGeneration=2, replicas=3, updatedReplicas=3, availableReplicas=3))
    assert r.ready


def test_deployment_stale_observed_generation_is_not_ready() -> None:
    # The status looks complete but belongs to the previous spec.
    r = readiness.evaluate(deploy(observedGeneration=1, replicas=3, updatedReplicas=3, availableReplicas=3))
    assert not r.ready
    assert not r.failed
    assert "not observed" in r.message


def test_deployment_old_replicas_and_unavailable() -> None:
    r = readiness.evaluate(deploy(observedGeneration=2, replicas=4, updatedReplicas=3, availableReplicas=3))
    assert not r.ready
    assert "old replicas" in r.message
    r = readiness.evaluate(deploy(observedGeneration=2, replicas=3, updatedReplicas=3, availableReplicas=2))
    assert not r.ready
    assert "2 of 3 replicas available" in r.message


def test_deployment_progress_deadline_exceeded_fails() -> None:
    cond = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "api-7f" has timed out progressing.',
    }
    r = readiness.evaluate(deploy(observedGeneration=2, conditions=[cond]))
    assert r.failed
    assert not r.ready
    assert "progress deadline" in r.message
    assert "timed out progressing" in r.message


def sts(spec: dict[str, Any], status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": generation},
        "spec": spec,
        "status": status,
    }


def test_statefulset_rules() -> None:
    base = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3}
    assert readiness.evaluate(
        sts({"replicas": 3}, {**base, "currentRevision": "a", "updateRevision": "a"})
    ).ready
    r = readiness.evaluate(sts({"replicas": 3}, {**base, "currentRevision": "a", "updateRevision": "b"}))
    assert not r.ready
    assert "new revision" in r.message
    r = readiness.evaluate(sts({"replicas": 3}, {**base, "readyReplicas": 2}))
    assert not r.ready
    assert "2 of 3 pods ready" in r.message
    assert not readiness.evaluate(sts({"replicas": 3}, {**base, "observedGeneration": 0})).ready
    assert not readiness.evaluate(sts({"replicas": 3}, base, generation=2)).ready


def test_statefulset_partitioned_rollout() -> None:
    spec = {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}
    status = {"observedGeneration": 1, "readyReplicas": 3, "currentRevision": "a", "updateRevision": "b"}
    # Only ordinal 2 is updated: revisions differ, yet the partitioned rollout is done.
    assert readiness.evaluate(sts(spec, {**status, "updatedReplicas": 1})).ready
    assert not readiness.evaluate(sts(spec, {**status, "updatedReplicas": 0})).ready


def test_job_complete_failed_running() -> None:
    done = {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert readiness.evaluate(done).ready
    failed = {
        "kind": "Job",
        "status": {
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "6 retries"}
            ]
        },
    }
    r = readiness.evaluate(failed)
    assert r.failed
    assert "BackoffLimitExceeded" in r.message
    assert "6 retries" in r.message
    running = readiness.evaluate({"kind": "Job", "status": {"active": 1}})
    assert not running.ready
    assert not running.failed


def test_pvc_bound_pending_and_wait_for_first_consumer() -> None:
    pvc: dict[str, Any] = {"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}
    assert not readiness.evaluate(pvc).ready
    assert readiness.evaluate(pvc, binding_mode="WaitForFirstConsumer").ready
    assert not readiness.evaluate(pvc, binding_mode="Immediate").ready
    assert readiness.evaluate({**pvc, "status": {"phase": "Bound"}}).ready
    assert readiness.evaluate({**pvc, "status": {"phase": "Lost"}}).failed


def test_service_load_balancer_needs_an_address() -> None:
    lb: dict[str, Any] = {"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}
    r = readiness.evaluate(lb)
    assert not r.ready
    assert "load balancer" in r.message
    assert readiness.evaluate(
        {**lb, "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}}
    ).ready
    assert readiness.evaluate({**lb, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}).ready
    assert readiness.evaluate({"kind": "Service", "spec": {"type": "ClusterIP"}}).ready


def test_other_kinds_are_ready_once_they_exist() -> None:
    assert readiness.evaluate({"kind": "ConfigMap", "data": {}}).ready


def test_progress_line() -> None:
    assert readiness.progress_line(deploy(want=3, availableReplicas=2)) == "2/3 ready"
    assert readiness.progress_line({"kind": "Job"}) is None


def pod(name: str, status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": status}


def test_pod_problems_image_pull() -> None:
    lines = readiness.pod_problems(
        [
            pod(
                "api-1",
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        {
                            "name": "api",
                            "image": "ghcr.io/example/api:9.9",
                            "restartCount": 0,
                            "state": {
                                "waiting": {
                                    "reason": "ImagePullBackOff",
                                    "message": 'Back-off pulling image "x"',
                                }
                            },
                        }
                    ],
                },
            )
        ]
    )
    assert len(lines) == 1
    assert "api-1" in lines[0]
    assert "ghcr.io/example/api:9.9" in lines[0]
    assert "ImagePullBackOff" in lines[0]
    assert "Back-off pulling" in lines[0]


def test_pod_problems_crash_loop() -> None:
    status = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "api",
                "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
            }
        ],
    }
    [line] = readiness.pod_problems([pod("api-2", status)])
    assert "CrashLoopBackOff" in line
    assert "7 restarts" in line
    assert "exit code 137" in line
    assert "OOMKilled" in line


def test_pod_problems_unschedulable_and_healthy() -> None:
    msg = "0/3 nodes are available: 3 Insufficient cpu."
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}
    [line] = readiness.pod_problems([pod("api-3", {"phase": "Pending", "conditions": [cond]})])
    assert "cannot be scheduled" in line
    assert msg in line
    healthy = {"phase": "Running", "containerStatuses": [{"name": "a", "state": {"running": {}}}]}
    assert readiness.pod_problems([pod("ok", healthy)]) == []
