"""Runs deploy and delete runs tier by tier through the ports, persisting every step.

One run at a time per (cluster, deployment): later requests queue in the store and are claimed
in order. State is written before and after each step, so a restarted bot resumes a run from its
last completed tier (apply is idempotent) and keeps updating the same progress message.
"""

from __future__ import annotations

import functools
import logging
import secrets as secrets_mod
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor as PoolExecutor
from typing import Any

from bot.core import errors, holes, plan, ports, render, secrets
from bot.core.catalog import Catalog
from bot.core.errors import DeployError, NotFound, PermanentDeployError
from bot.core.events import (
    ApprovalChanged,
    Event,
    RunFinished,
    RunQueued,
    RunStarted,
    TierApplying,
    TierFailed,
    TierReady,
    TierWaiting,
)
from bot.core.model import Profile
from bot.core.ports import Cluster, ClusterError, ObjectRef
from bot.core.readiness import FailFast
from bot.core.records import Run, RunKind, TierState, VersionRecord
from bot.core.secrets import MASK, redact
from bot.core.tickets import DeployTicket
from bot.publisher import Publisher

log = logging.getLogger("appprofile.executor")

# Apply order inside a tier (after Helm's kind sorter): what others refer to goes first.
KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "Deployment",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Job",
    "CronJob",
    "Ingress",
]
WAIT_KINDS = {"Deployment", "StatefulSet", "Job", "PersistentVolumeClaim", "Service", "DaemonSet"}


def _inv_key(item: Mapping[str, Any]) -> tuple[str, str, str, str]:
    api = str(item.get("apiVersion") or item.get("api_version") or "")
    return (api, str(item.get("kind")), str(item.get("namespace") or ""), str(item.get("name")))


def _retold(exc: ClusterError, message: str, detail: str) -> ClusterError:
    """The same failure (permanent or temporary, with its Retry-After), said for this run."""
    return ClusterError(message, status=exc.status, hint=detail, retry_after=exc.retry_after)


def kind_rank(obj: Mapping[str, Any]) -> int:
    kind = str(obj.get("kind", ""))
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


class Executor:
    def __init__(
        self,
        store: ports.Repositories,
        catalog: Catalog,
        connect: Callable[[str], Cluster],
        charts: plan.ChartRenderer,
        publisher: Publisher,
        pool: PoolExecutor,
        *,
        clock: ports.Clock,
        wait_timeout: float = 600.0,
        fail_fast: FailFast | None = None,
        guards: Callable[[str], plan.Guard] | None = None,
        check: plan.SchemaCheck | None = None,
        password: Callable[[], str] = lambda: secrets_mod.token_urlsafe(18),
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.connect = connect
        self.charts = charts
        self.publisher = publisher
        self.clock = clock
        self.pool = pool
        self.wait_timeout = wait_timeout
        # When a pod state that needs a person fails a tier (instead of the wait timeout).
        self.fail_fast = fail_fast or FailFast()
        # The cluster's guardrails, checked again on the fresh plan a run applies.
        self.guards = guards
        # The Kubernetes schema, checked again on each object once its holes are filled.
        self.check = check
        self.password = password
        self._lock = threading.Lock()
        self._active: set[tuple[str, str]] = set()
        # Per run: every secret value known so far (given, generated, read back), scrubbed from
        # anything a person sees: failure messages, thread details, outputs, the audit log.
        self._hidden: dict[int, set[str]] = {}
        # Per run: a failure's full text, shown with the run's finish (in the message's thread).
        self._details: dict[int, str] = {}

    # -- requests --------------------------------------------------------------------------

    def request_deploy(
        self,
        user: str,
        channel: str,
        rec: VersionRecord,
        p: plan.Plan,
        sets: Mapping[str, str],
        *,
        kind: RunKind = "deploy",
        awaiting_approval: bool = False,
        expires_in: float | None = None,
    ) -> DeployTicket:
        dep = self.store.get_deployment(p.cluster, p.deployment)
        if dep is None or dep.status == "deleted":
            dep = self.store.upsert_deployment(
                p.cluster, p.deployment, profile=rec.name, version=rec.version, channel=channel, actor=user
            )
        run = self.store.create_run(
            deployment_id=dep.id,
            cluster=p.cluster,
            deployment=p.deployment,
            profile=rec.name,
            version=rec.version,
            kind=kind,
            status="awaiting_approval" if awaiting_approval else "queued",
            requested_by=user,
            channel=channel,
            fingerprint=p.fingerprint,
            plan=p.model_dump(mode="json"),
            tiers=[TierState(name=t.name, state="pending") for t in p.tiers],
            options={"set": dict(sets)},
            expires_at=self.clock.timestamp(expires_in) if expires_in is not None else None,
        )
        self.store.audit(
            user, channel, kind, f"{rec.name}@{rec.version} → {p.cluster}/{p.deployment}", "requested"
        )
        position = 0
        if not awaiting_approval:
            position = self.store.queue_position(run.id)
            # The plan is in the channel before anything runs, and a queued run shows its place.
            self.publisher.publish(RunQueued, run.id)
            self.kick(p.cluster, p.deployment)
        return DeployTicket(
            run_id=run.id, plan=p, queued_position=position, awaiting_approval=awaiting_approval
        )

    def request_delete(
        self,
        user: str,
        channel: str,
        name: str,
        *,
        cluster: str | None = None,
        purge: bool = False,
        awaiting_approval: bool = False,
        expires_in: float | None = None,
    ) -> int:
        live = [
            d
            for d in self.store.find_deployments(name)
            if d.status != "deleted" and cluster in (None, d.cluster)
        ]
        if len(live) != 1:
            where = f" on {cluster}" if cluster else ""
            raise NotFound(
                f"there is no single live deployment named `{name}`{where}", "see `/appprofile deployments`"
            )
        dep = live[0]
        # The teardown as a plan of prunes: the approval card shows it and binds to its fingerprint.
        changes = [
            {
                "action": "prune",
                "tier": it["tier"],
                "ref": {
                    "api_version": it["apiVersion"],
                    "kind": it["kind"],
                    "name": it["name"],
                    "namespace": it.get("namespace"),
                },
            }
            for it in dep.inventory
        ]
        teardown = {"changes": changes, "purge": purge}
        run = self.store.create_run(
            deployment_id=dep.id,
            cluster=dep.cluster,
            deployment=dep.name,
            profile=dep.profile,
            version=dep.version,
            kind="delete",
            status="awaiting_approval" if awaiting_approval else "queued",
            requested_by=user,
            channel=channel,
            fingerprint=plan.fingerprint({"delete": f"{dep.cluster}/{dep.name}", **teardown}),
            plan=teardown,
            tiers=[],
            options={"purge": purge},
            expires_at=self.clock.timestamp(expires_in) if expires_in is not None else None,
        )
        self.store.audit(user, channel, "delete", f"{dep.cluster}/{dep.name}", "requested", f"purge={purge}")
        if not awaiting_approval:
            self.publisher.publish(RunQueued, run.id)
            self.kick(dep.cluster, dep.name)
        return run.id

    def release(self, run_id: int) -> None:
        """An approved run joins its deployment's queue."""
        run = self.store.update_run(run_id, status="queued")
        self.kick(run.cluster, run.deployment)

    def resume(self) -> int:
        """After a restart: continue running runs and start queued ones. Returns how many keys."""
        keys = {(r.cluster, r.deployment) for r in self.store.runs_with_status("running", "queued")}
        for cluster, deployment in sorted(keys):
            self.kick(cluster, deployment)
        return len(keys)

    def kick(self, cluster: str, deployment: str) -> None:
        key = (cluster, deployment)
        with self._lock:
            if key in self._active:
                return  # the driver already running for this key will claim the new run
            self._active.add(key)
        self.pool.submit(self._drive, key)

    # -- driving ---------------------------------------------------------------------------

    def _drive(self, key: tuple[str, str]) -> None:
        while True:
            with self._lock:
                try:
                    run = self.store.running_run(*key) or self.store.claim_next_run(*key)
                except Exception:
                    self._active.discard(key)
                    log.exception("claiming a run failed", extra={"cluster": key[0], "deployment": key[1]})
                    return
                if run is None:
                    self._active.discard(key)
                    return
            self._execute(run)
            # Runs still waiting behind this one moved up: show their new place.
            for waiting in self.store.runs_with_status("queued"):
                if (waiting.cluster, waiting.deployment) == key:
                    self.publisher.publish(RunQueued, waiting.id)

    def _execute(self, run: Run) -> None:
        log.info("run started", extra={"run_id": run.id, "kind": run.kind, "cluster": run.cluster})
        try:
            run = self.publisher.publish(RunStarted, run.id) or run
            if run.kind == "delete":
                self._teardown(run)
            else:
                self._deploy(run)
        except Exception as exc:  # every failure ends the run, said as the error tree says it
            self._fail_with(run.id, exc)
        finally:
            detail = self._details.pop(run.id, "")
            self._hidden.pop(run.id, None)
            self.publisher.publish(RunFinished, run.id, detail=detail)
            if self.store.get_run(run.id).approval_ts:
                self.publisher.publish(ApprovalChanged, run.id)

    def _set_tier(
        self,
        run_id: int,
        index: int,
        event: type[Event],
        *,
        shown: dict[str, str] | None = None,
        **fields: Any,
    ) -> Run:
        run = self.store.get_run(run_id)
        tiers = list(run.tiers)
        tiers[index] = tiers[index].model_copy(update=fields)
        run = self.store.update_run(run_id, tiers=tiers)
        tier = tiers[index]
        extra: dict[str, Any] = {"tier": tier.name}
        if event is TierWaiting:
            extra["reason"] = tier.message
        if shown is not None:
            extra["outputs"] = shown
        self.publisher.publish(event, run_id, **extra)
        return run

    def _fail_with(self, run_id: int, exc: Exception) -> None:
        seen = errors.shown(exc, lambda: uuid.uuid4().hex[:8])
        if seen.log:
            log.error(
                "run failed: %s", seen.kind, extra={"run_id": run_id, "incident": seen.incident}, exc_info=exc
            )
        detail = exc.detail if isinstance(exc, DeployError) and exc.detail else (seen.hint or "")
        self._fail(run_id, seen.text, detail)

    def _fail(self, run_id: int, message: str, detail: str) -> None:
        hidden = self._hidden.get(run_id, set())
        message, detail = redact(message, hidden), redact(detail, hidden)
        run = self.store.get_run(run_id)
        now = self.clock.now()
        failed = [t.name for t in run.tiers if t.state in ("applying", "waiting")]
        tiers = [
            t.model_copy(update={"state": "failed", "finished_at": now, "message": message[:300]})
            if t.name in failed
            else t
            for t in run.tiers
        ]
        if run.deployment_id is not None:
            self.store.update_deployment(run.deployment_id, status="failed")
        run = self.store.update_run(run_id, status="failed", error=message, tiers=tiers)  # terminal last
        self.store.audit(
            run.requested_by, run.channel, run.kind, f"{run.cluster}/{run.deployment}", "failed", message
        )
        for name in failed:
            self.publisher.publish(TierFailed, run_id, tier=name, message=message[:300])
        self._details[run_id] = detail

    # -- deploy ----------------------------------------------------------------------------

    def _deploy(self, run: Run) -> None:
        profile = self.store.get_version(run.profile, run.version).profile()
        cluster = self.connect(run.cluster)
        p = self._plan_for(run, profile)
        target = plan.Target(cluster=run.cluster, deployment=run.deployment, user=run.requested_by)
        guard = self.guards(run.cluster).once() if self.guards is not None else None
        if guard is not None:
            plan.enforce(p.tiers, target, guard)  # the cluster's rules as they are now
        if run.deployment_id is not None:
            self.store.update_deployment(run.deployment_id, status="deploying")
        outputs: dict[str, dict[str, Any]] = {}
        hidden = self._hidden.setdefault(run.id, set())
        overrides = plan.parse_sets(run.options.get("set", {}), profile)
        hidden.update(secrets.given_values(profile, self.catalog, overrides))
        for i, tp in enumerate(p.tiers):
            generated = self._generated(cluster, tp, hidden)
            if i < run.next_tier:
                # Resumed after a restart: this tier is done; its outputs come back from the cluster.
                outputs[tp.name] = self._outputs(cluster, tp, outputs, hidden)
                continue
            objs = self._filled(p, tp, outputs, generated, target, guard)
            started = self.clock.now()
            self._set_tier(run.id, i, TierApplying, state="applying", started_at=started, message="")
            self._namespace(cluster, tp, p, guard)
            self._apply_tier(run, tp.name, objs, cluster, hidden)
            self._set_tier(run.id, i, TierWaiting, state="waiting")
            self._wait_tier(run.id, i, tp.name, objs, cluster, started + self.wait_timeout, hidden)
            outputs[tp.name] = self._outputs(cluster, tp, outputs, hidden)
            run = self.store.update_run(run.id, next_tier=i + 1)
            self._set_tier(
                run.id,
                i,
                TierReady,
                state="ready",
                finished_at=self.clock.now(),
                message="",
                shown=self._masked(run.id, tp, outputs[tp.name]),
            )
        for change in reversed(p.changes):
            if change.action == "prune":
                try:
                    cluster.delete(change.ref)
                except ClusterError as exc:
                    raise _retold(exc, f"pruning {change.ref.label}: {exc.message}", exc.hint or "") from None
        self._succeed(run.id, p, outputs)

    def _plan_for(self, run: Run, profile: Profile) -> plan.Plan:
        """The plan the run was requested (and approved) with, applied as it is while the
        deployment is as it was planned against. If another run changed the deployment
        meanwhile, plan again: an approval holds for the plan it was given to only; a queued
        run simply takes the fresh plan."""
        p = plan.Plan.model_validate(run.plan)
        if run.next_tier > 0:
            return p  # resumed: finish the plan this run started
        dep = self.store.get_deployment(run.cluster, run.deployment)
        deployed = dep.inventory if dep is not None and dep.status != "deleted" else []
        if p.base and p.base == plan.inventory_digest(deployed):
            return p
        target = plan.Target(cluster=run.cluster, deployment=run.deployment, user=run.requested_by)
        fresh = plan.build(
            profile,
            self.catalog,
            target,
            charts=self.charts,
            sets=run.options.get("set", {}),
            deployed=deployed,
            check=self.check,
            guard=self.guards(run.cluster) if self.guards is not None else None,
        )
        if fresh.fingerprint == run.fingerprint:
            return fresh
        if run.approval_ts is not None:
            raise PermanentDeployError(
                f"the plan changed since it was approved ({run.fingerprint[:12]} → {fresh.short_fingerprint}: "
                f"{fresh.summary()})",
                "the deployment changed while this request waited; request the deploy again for a new approval",
            )
        self.store.update_run(run.id, plan=fresh.model_dump(mode="json"), fingerprint=fresh.fingerprint)
        self.publisher.publish(RunStarted, run.id)  # the card now shows the fresh plan
        return fresh

    def _filled(
        self,
        p: plan.Plan,
        tp: plan.TierPlan,
        outputs: Mapping[str, Mapping[str, Any]],
        generated: Mapping[str, str],
        target: plan.Target,
        guard: plan.Guard | None,
    ) -> list[dict[str, Any]]:
        """The tier's planned objects with their holes filled, checked again as they will be applied."""
        objs = holes.fill(tp.objects, tp.holes, outputs, generated, tier=tp.name)
        holes.unfilled(objs, tp.name)
        for obj in objs if self.check is not None else []:
            wrong = self.check(obj) if self.check is not None else []
            if wrong:
                raise plan.invalid_object(tp.name, obj, wrong)
        if guard is not None:
            plan.enforce(p.tiers, target, guard, [(tp.name, obj) for obj in objs])
        return objs

    def _apply_tier(
        self, run: Run, tier: str, objs: list[dict[str, Any]], cluster: Cluster, hidden: set[str]
    ) -> None:
        tracked = self._tracked(run)
        try:
            for obj in sorted(objs, key=kind_rank):
                self._track(run, tier, obj, tracked)
                cluster.apply(obj)
        except ClusterError as exc:
            raise _retold(
                exc, f"{tier}: {redact(exc.message, hidden)}", redact(exc.hint or exc.message, hidden)
            ) from None

    def _wait_tier(
        self,
        run_id: int,
        index: int,
        tier: str,
        objs: list[dict[str, Any]],
        cluster: Cluster,
        deadline: float,
        hidden: set[str],
    ) -> None:
        for obj in objs:
            if obj.get("kind") not in WAIT_KINDS:
                continue
            ref = ObjectRef.of(obj)
            result = cluster.wait_ready(
                ref,
                timeout=max(1.0, deadline - self.clock.now()),
                on_progress=functools.partial(self._progress, run_id, index),
                fail_fast=self.fail_fast,
            )
            if result.ready:
                continue
            why = redact(result.message or "no reason given", hidden)
            # The port's message carries neither the label nor a timeout: each is said once, here.
            head = ref.label if result.failed else f"{ref.label} not ready after {self.wait_timeout:g}s"
            raise PermanentDeployError(f"{tier}: {head}: {why.splitlines()[0]}", f"{head}: {why}")

    def _tracked(self, run: Run) -> set[tuple[str, str, str, str]]:
        dep = self.store.get_deployment(run.cluster, run.deployment)
        return {_inv_key(it) for it in dep.inventory} if dep is not None else set()

    def _track(
        self, run: Run, tier: str, obj: Mapping[str, Any], tracked: set[tuple[str, str, str, str]]
    ) -> None:
        """Just before an object is applied, add it to the deployment's inventory: a run that fails
        half-way tracks exactly what it sent, and the next plan prunes or changes it visibly."""
        ref = ObjectRef.of(obj)
        item = {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "name": ref.name,
            "namespace": ref.namespace,
            "tier": tier,
            "hash": "",  # "applied, content unknown": the next plan shows it as a change
        }
        if run.deployment_id is None or _inv_key(item) in tracked:
            return
        dep = self.store.get_deployment(run.cluster, run.deployment)
        if dep is None:
            return
        self.store.update_deployment(dep.id, inventory=[*dep.inventory, item])
        tracked.add(_inv_key(item))

    def _progress(self, run_id: int, index: int, message: str) -> None:
        # The line quotes pods (a container's waiting message): it may hold a secret like any error.
        shown = redact(message, self._hidden.get(run_id, set()))[:200]
        self._set_tier(run_id, index, TierWaiting, message=shown)

    def _generated(self, cluster: Cluster, tp: plan.TierPlan, hidden: set[str]) -> dict[str, str]:
        """Generated passwords: made once, kept in a Secret in the cluster (one of the tier's
        planned objects), reused by every deploy."""
        if not tp.generated:
            return {}
        existing = cluster.read_secret(tp.namespace, tp.generated_secret) or {}
        values = {k: existing[k] if existing.get(k) else self.password() for k in tp.generated}
        hidden.update(values.values())  # before anything can fail with them in its message
        return values

    def _namespace(self, cluster: Cluster, tp: plan.TierPlan, p: plan.Plan, guard: plan.Guard | None) -> None:
        owner = guard.owner(tp.namespace) if guard is not None else cluster.namespace_owner(tp.namespace)
        if not owner.exists or owner.managed:
            # A namespace appprofile did not create (opened by guardrails.namespaces) is written
            # into, never labelled: its labels stay its owner's.
            cluster.ensure_namespace(tp.namespace, render.namespace_labels(p.deployment, tp.name, p.version))

    def _outputs(
        self,
        cluster: Cluster,
        tp: plan.TierPlan,
        below: Mapping[str, Mapping[str, Any]],
        hidden: set[str],
    ) -> dict[str, Any]:
        """The tier's outputs, as its plan says where each comes from."""
        out: dict[str, Any] = {}
        # Several outputs of a tier name the same Service (host, port, address): read it once.
        services = functools.cache(cluster.read_service)
        for spec in tp.outputs:
            where = f"tier {tp.name}: outputs.{spec.name}"
            if spec.secret is not None:
                name = str(holes.fill_value(spec.secret["name"], tp.holes, below, tier=tp.name))
                data = cluster.read_secret(tp.namespace, name) or {}
                if spec.secret["key"] not in data:
                    raise PermanentDeployError(
                        f"{where}: Secret {tp.namespace}/{name} has no key {spec.secret['key']}"
                    )
                value: Any = data[spec.secret["key"]]
                hidden.add(str(value))
            elif spec.service is not None:
                name = str(holes.fill_value(spec.service["name"], tp.holes, below, tier=tp.name))
                value = self._service_field(services, tp.namespace, name, spec.service["field"], where)
            elif spec.value is not None:
                value = holes.fill_value(spec.value, tp.holes, below, tier=tp.name)
            else:
                continue
            if spec.sensitive:
                hidden.add(str(value))
            for key in (spec.name, *spec.aliases):
                out[key] = value
        return out

    def _service_field(
        self,
        services: Callable[[str, str], dict[str, Any] | None],
        ns: str,
        name: str,
        field: str,
        where: str,
    ) -> str:
        svc = services(ns, name)
        if svc is None:
            raise PermanentDeployError(f"{where}: Service {ns}/{name} does not exist")
        if field == "host":
            return f"{name}.{ns}.svc.cluster.local"
        if field == "port":
            ports = (svc.get("spec") or {}).get("ports") or []
            return str(ports[0].get("port", "")) if ports else ""
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        key = "ip" if field == "externalIP" else "hostname"
        return str(ingress[0].get(key) or "") if ingress else ""

    def _masked(self, run_id: int, tp: plan.TierPlan, values: Mapping[str, Any]) -> dict[str, str]:
        """A tier's outputs as people see them: secret outputs masked, and secrets scrubbed from
        the rest (a DSN built from a password)."""
        secret = {k for s in tp.outputs if s.sensitive for k in (s.name, *s.aliases)}
        hidden = self._hidden.get(run_id, set())
        return {k: (MASK if k in secret else redact(str(v), hidden)) for k, v in values.items()}

    def _succeed(self, run_id: int, p: plan.Plan, outputs: dict[str, dict[str, Any]]) -> None:
        shown = {tp.name: self._masked(run_id, tp, outputs[tp.name]) for tp in p.tiers if tp.name in outputs}
        # The deployment first, the run's terminal status last: whoever sees the run succeeded
        # (a waiting test, `status`, a resumed bot) sees the deployment as it now is.
        run = self.store.get_run(run_id)
        if run.deployment_id is not None:
            dep = self.store.get_deployment(run.cluster, run.deployment)
            rendered = p.inventory()
            gone = {_inv_key(c.ref.model_dump(by_alias=True)) for c in p.changes if c.action == "prune"}
            keep = {_inv_key(it) for it in rendered} | gone
            # Objects this plan neither rendered nor pruned (left by a run that failed after the
            # plan was made) stay tracked, so the next plan shows them as prunes.
            leftovers = [it for it in (dep.inventory if dep else []) if _inv_key(it) not in keep]
            self.store.update_deployment(
                run.deployment_id,
                status="ready",
                profile=p.profile,
                version=p.version,
                last_good_version=p.version,
                outputs=shown,
                inventory=[*rendered, *leftovers],
            )
        run = self.store.update_run(run_id, status="succeeded")
        self.store.audit(
            run.requested_by,
            run.channel,
            run.kind,
            f"{run.cluster}/{run.deployment}",
            "ok",
            f"{p.profile}@{p.version}",
        )

    # -- delete ----------------------------------------------------------------------------

    def _teardown(self, run: Run) -> None:
        dep = self.store.get_deployment(run.cluster, run.deployment)
        if dep is None:
            raise PermanentDeployError(f"deployment {run.deployment} on {run.cluster} no longer exists")
        cluster = self.connect(run.cluster)
        purge = bool(run.options.get("purge"))
        self.store.update_deployment(dep.id, status="deleting")
        tiers_in_order: list[str] = []
        for item in dep.inventory:
            if item["tier"] not in tiers_in_order:
                tiers_in_order.append(item["tier"])
        states = [TierState(name=t, state="pending") for t in reversed(tiers_in_order)]
        self.store.update_run(run.id, tiers=states)
        for i, tier in enumerate(reversed(tiers_in_order)):
            self._set_tier(
                run.id, i, TierApplying, state="applying", started_at=self.clock.now(), message="deleting"
            )
            items = [it for it in dep.inventory if it["tier"] == tier]
            for it in sorted(items, key=kind_rank, reverse=True):
                if render.kept_without_purge(it["kind"], it["name"]) and not purge:
                    continue
                ref = ObjectRef(
                    api_version=it["apiVersion"], kind=it["kind"], name=it["name"], namespace=it["namespace"]
                )
                cluster.delete(ref)
            self._set_tier(run.id, i, TierReady, state="deleted", finished_at=self.clock.now(), message="")
        # Anything else labelled as ours (e.g. applied by a run that crashed before recording it).
        tracked = {_inv_key(it) for it in dep.inventory}
        for ref in cluster.list_owned(dep.name):
            if ref.kind == "Namespace" or _inv_key(ref.model_dump()) in tracked:
                continue
            if render.kept_without_purge(ref.kind, ref.name) and not purge:
                continue
            cluster.delete(ref)
        if purge:
            # Namespaces go last and take the PVCs and generated Secrets with them.
            for ns in sorted({it["namespace"] for it in dep.inventory if it.get("namespace")}):
                cluster.delete(ObjectRef(api_version="v1", kind="Namespace", name=ns))
        # As for a deploy: the deployment's new state first, the run's terminal status last.
        self.store.update_deployment(dep.id, status="deleted", inventory=[], outputs={})
        self.store.update_run(run.id, status="succeeded")
        self.store.audit(
            run.requested_by, run.channel, "delete", f"{run.cluster}/{run.deployment}", "ok", f"purge={purge}"
        )
