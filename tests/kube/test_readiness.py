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


def pulling(name: str, reason: str) -> dict[str, Any]:
    cs = {"name": "api", "image": "x:404", "state": {"waiting": {"reason": reason}}}
    return pod(name, {"phase": "Pending", "containerStatuses": [cs]})


STALLED = deploy(
    generation=1, want=1, observedGeneration=1, replicas=1, updatedReplicas=1, availableReplicas=0
)
RULES = readiness.FailFast(image_pull_grace=20, unschedulable_grace=60, crash_loop_restarts=3)


def test_image_pull_fails_once_it_persists_past_its_grace() -> None:
    judge = readiness.RolloutJudge(RULES)
    assert not judge.judge(STALLED, now=0, pods=[pulling("api-1", "ErrImagePull")]).failed
    # The two reasons alternate for one problem: the grace does not start over.
    assert not judge.judge(STALLED, now=19, pods=[pulling("api-1", "ImagePullBackOff")]).failed
    r = judge.judge(STALLED, now=20, pods=[pulling("api-1", "ErrImagePull")])
    assert r.failed
    assert r.message == "pod api-1 container api cannot pull image x:404 (ErrImagePull)"


def test_a_problem_that_clears_starts_its_grace_over() -> None:
    judge = readiness.RolloutJudge(RULES)
    judge.judge(STALLED, now=0, pods=[pulling("api-1", "ErrImagePull")])
    assert not judge.judge(STALLED, now=10, pods=[]).failed
    assert not judge.judge(STALLED, now=25, pods=[pulling("api-1", "ErrImagePull")]).failed
    assert judge.judge(STALLED, now=45, pods=[pulling("api-1", "ErrImagePull")]).failed


def test_pods_not_looked_at_keep_the_last_problems() -> None:
    judge = readiness.RolloutJudge(RULES)
    judge.judge(STALLED, now=0, pods=[pulling("shop-frontend-canary-api-7d9f8c6b5-x2k4q-b", "ErrImagePull")])
    r = judge.judge(STALLED, now=1)
    assert not r.failed and "cannot pull image x:404" in r.message
    assert judge.line(STALLED) == "0/1 ready — shop-frontend-canary-api-7d9f8c6b5-x2k4…: ErrImagePull: x:404"


def test_crash_loop_fails_at_the_restart_count() -> None:
    def crashing(restarts: int) -> dict[str, Any]:
        cs = {"name": "api", "restartCount": restarts, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        return pod("api-1", {"phase": "Running", "containerStatuses": [cs]})

    judge = readiness.RolloutJudge(RULES)
    assert not judge.judge(STALLED, now=0, pods=[crashing(2)]).failed
    assert judge.judge(STALLED, now=0, pods=[crashing(3)]).failed


def test_config_errors_fail_at_once_and_a_ready_workload_ignores_pods() -> None:
    for reason in ("CreateContainerConfigError", "CreateContainerError", "InvalidImageName"):
        assert readiness.RolloutJudge(RULES).judge(STALLED, now=0, pods=[pulling("p", reason)]).failed
    ready = deploy(
        generation=1, want=1, observedGeneration=1, replicas=1, updatedReplicas=1, availableReplicas=1
    )
    judge = readiness.RolloutJudge(RULES)
    assert not judge.wants_pods(ready)
    assert judge.judge(ready, now=0, pods=[pulling("old", "CreateContainerError")]).ready


def test_unschedulable_has_its_own_grace() -> None:
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no nodes"}
    pending = [pod("api-1", {"phase": "Pending", "conditions": [cond]})]
    judge = readiness.RolloutJudge(RULES)
    assert not judge.judge(STALLED, now=0, pods=pending).failed
    assert not judge.judge(STALLED, now=59, pods=pending).failed
    assert judge.judge(STALLED, now=60, pods=pending).message == "pod api-1 cannot be scheduled: no nodes"


def test_pod_selector() -> None:
    assert (
        readiness.pod_selector(
            {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"b": "2", "a": "1"}}}}
        )
        == "a=1,b=2"
    )
    assert readiness.pod_selector({"kind": "Job", "metadata": {"name": "migrate"}}) == "job-name=migrate"
    assert readiness.pod_selector({"kind": "Service"}) is None
