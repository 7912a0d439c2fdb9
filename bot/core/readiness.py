"""Is a Kubernetes object ready? Pure rules per kind over the object dict (status included).

Two layers: `evaluate` judges one object by its own status; `RolloutJudge` adds what the
workload's pods say, so a rollout that needs a person (a bad image, a crash loop, a missing
Secret, no node that fits) fails within seconds instead of at the wait timeout. Time is passed
in (`now`), never read here, so the executor's test double drives the same rules on a
virtual clock.

The rules follow `kubectl rollout status` (which Argo CD's health checks copy): a status is
trusted only once `status.observedGeneration` has caught up with `metadata.generation`, so a
stale status from before the last apply is never mistaken for "done".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class FailFast(BaseModel):
    """How long a pod may sit in a state that needs a person before its tier fails."""

    model_config = ConfigDict(frozen=True)

    # Registries and their proxies do have short outages: a pull error gets a little while.
    image_pull_grace: float = Field(default=20.0, ge=0)
    # A container may crash a few times while what it depends on comes up.
    crash_loop_restarts: int = Field(default=3, ge=1)
    # The cluster autoscaler may be adding a node that fits.
    unschedulable_grace: float = Field(default=60.0, ge=0)
    # Longest gap between two looks at the pods while a workload is not ready.
    pod_check_interval: float = Field(default=5.0, gt=0)


# pull: graced; crash: by restart count; start: at once; unschedulable: graced; other: shown only.
Category = Literal["pull", "crash", "start", "unschedulable", "other"]

_PULL = frozenset({"ImagePullBackOff", "ErrImagePull"})
# These do not heal by waiting: the spec, a referenced Secret/ConfigMap or the image name is wrong.
_START_NOW = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "ErrImageNeverPull"}
)


class PodProblem(BaseModel):
    """One reason a pod does not become ready."""

    model_config = ConfigDict(frozen=True)

    pod: str
    container: str = ""
    category: Category
    reason: str
    detail: str = ""  # the short part for a progress line: the image, the restarts, the scheduler
    text: str  # the whole sentence, for a failure
    restarts: int = 0

    @property
    def key(self) -> str:
        # ErrImagePull and ImagePullBackOff alternate for one problem: the category, not the reason.
        return f"{self.pod}/{self.container}/{self.category}"


def _container_problem(pod: str, cs: Mapping[str, Any]) -> PodProblem | None:
    container = str(cs.get("name") or "?")
    waiting = _map(_map(cs.get("state")).get("waiting"))
    reason = str(waiting.get("reason") or "")
    message = str(waiting.get("message") or "").strip()
    tail = f": {message}" if message else ""
    where = f"pod {pod} container {container}"
    base = {"pod": pod, "container": container, "reason": reason}
    if reason in _PULL or reason in ("InvalidImageName", "ErrImageNeverPull"):
        image = str(cs.get("image") or "?")
        category: Category = "pull" if reason in _PULL else "start"
        text = f"{where} cannot pull image {image} ({reason}){tail}"
        return PodProblem(**base, category=category, detail=image, text=text)
    if reason == "CrashLoopBackOff":
        restarts = _int(cs.get("restartCount"))
        terminated = _map(_map(cs.get("lastState")).get("terminated"))
        text = f"{where} keeps crashing (CrashLoopBackOff, {restarts} restarts"
        if "exitCode" in terminated:
            text += f", last exit code {terminated.get('exitCode')}"
            if terminated.get("reason"):
                text += f" {terminated.get('reason')}"
        detail = f"{restarts} restarts"
        return PodProblem(**base, category="crash", detail=detail, text=text + ")", restarts=restarts)
    if reason in _STUCK_WAITING:
        category = "start" if reason in _START_NOW else "other"
        text = f"{where} cannot start ({reason}){tail}"
        return PodProblem(**base, category=category, detail=message, text=text)
    return None


def _unschedulable(pod: str, status: Mapping[str, Any]) -> PodProblem | None:
    if status.get("phase") != "Pending":
        return None
    for cond in _conditions(status):
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            detail = str(cond.get("message") or "").strip()
            text = f"pod {pod} cannot be scheduled" + (f": {detail}" if detail else "")
            return PodProblem(
                pod=pod, category="unschedulable", reason="Unschedulable", detail=detail, text=text
            )
    return None


def pod_problems_of(pods: Sequence[Mapping[str, Any]]) -> list[PodProblem]:
    """Why these pods do not become ready; empty when nothing is obviously wrong."""
    found: list[PodProblem] = []
    for pod in pods:
        name = str(_map(pod.get("metadata")).get("name") or "?")
        status = _map(pod.get("status"))
        stuck = _unschedulable(name, status)
        if stuck is not None:
            found.append(stuck)
        raw = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        found.extend(p for cs in raw if isinstance(cs, Mapping) and (p := _container_problem(name, cs)))
        if status.get("phase") == "Failed" and status.get("reason"):
            reason, message = str(status.get("reason")), str(status.get("message") or "").strip()
            text = f"pod {name} failed ({reason})" + (f": {message}" if message else "")
            found.append(PodProblem(pod=name, category="other", reason=reason, detail=message, text=text))
    return found


def pod_problems(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    """Human lines saying why pods do not become ready; empty when nothing is obviously wrong."""
    return [p.text for p in pod_problems_of(pods)]


def permanent(problem: PodProblem, persisted: float, rules: FailFast) -> bool:
    """Does this problem need a person, given it has been seen for `persisted` seconds?"""
    if problem.category == "start":
        return True
    if problem.category == "pull":
        return persisted >= rules.image_pull_grace
    if problem.category == "crash":
        return problem.restarts >= rules.crash_loop_restarts
    if problem.category == "unschedulable":
        return persisted >= rules.unschedulable_grace
    return False


# Kinds whose readiness comes from pods, which a selector finds.
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def pod_selector(obj: Mapping[str, Any]) -> str | None:
    """The label selector of a workload's pods (matchLabels only), or None if it has none."""
    if obj.get("kind") not in POD_KINDS:
        return None
    labels = dict(_map(_map(_map(obj.get("spec")).get("selector")).get("matchLabels")))
    if not labels and obj.get("kind") == "Job":
        labels = {"job-name": str(_map(obj.get("metadata")).get("name"))}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_line(obj: Mapping[str, Any], problems: Sequence[PodProblem] = ()) -> str | None:
    """A short "2/3 ready — api-7d9f…: ImagePullBackOff: ghcr.io/x/y:404" line; None when there
    is nothing to count and nothing wrong."""
    head: str | None = None
    if obj.get("kind") in ("Deployment", "StatefulSet"):
        want = _int(_map(obj.get("spec")).get("replicas"), 1)
        field = "availableReplicas" if obj.get("kind") == "Deployment" else "readyReplicas"
        head = f"{_int(_map(obj.get('status')).get(field))}/{want} ready"
    if not problems:
        return head
    first = problems[0]
    why = f"{_short(first.pod, 40)}: {first.reason}" + (
        f": {_short(first.detail, 80)}" if first.detail else ""
    )
    return f"{head} — {why}" if head else why


class RolloutJudge:
    """One wait's verdicts: the object's own rules, then its pods' problems against `FailFast`.

    It remembers when each pod problem was first seen (a problem that clears starts over), which
    is what makes a grace measurable without the pods carrying a timestamp for it.
    """

    def __init__(self, rules: FailFast) -> None:
        self.rules = rules
        self.problems: list[PodProblem] = []
        self._first_seen: dict[str, float] = {}

    def wants_pods(self, obj: Mapping[str, Any] | None) -> bool:
        """Whether looking at the pods could change the verdict on `obj`."""
        if obj is None or pod_selector(obj) is None:
            return False
        verdict = evaluate(obj)
        return not (verdict.ready or verdict.failed)

    def judge(
        self,
        obj: Mapping[str, Any] | None,
        *,
        now: float,
        pods: Sequence[Mapping[str, Any]] | None = None,
        binding_mode: str | None = None,
    ) -> Readiness:
        """`pods` None: not looked at this time, the last problems stand."""
        if obj is None:
            return _waiting("does not exist yet")
        verdict = evaluate(obj, binding_mode=binding_mode)
        if verdict.ready or verdict.failed:
            self.problems = []
            return verdict
        if pods is not None:
            stuck = self._observe(pod_problems_of(pods), now)
            if stuck is not None:
                return _failed(stuck.text)
        if self.problems:
            return _waiting("; ".join([verdict.message, *(p.text for p in self.problems)]))
        return verdict

    def line(self, obj: Mapping[str, Any] | None) -> str | None:
        return None if obj is None else progress_line(obj, self.problems)

    def _observe(self, problems: list[PodProblem], now: float) -> PodProblem | None:
        seen = {p.key for p in problems}
        self._first_seen = {k: t for k, t in self._first_seen.items() if k in seen}
        for p in problems:
            self._first_seen.setdefault(p.key, now)
        self.problems = problems
        for p in problems:
            if permanent(p, now - self._first_seen[p.key], self.rules):
                return p
        return None
