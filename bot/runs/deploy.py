"""One deploy run: its plan checked again, then tier by tier (apply, wait, read outputs), then
the prunes, then the deployment as it now is."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from bot.core import plan, secrets
from bot.core.errors import PermanentDeployError
from bot.core.events import TierApplying, TierReady, TierWaiting
from bot.core.ports import Cluster, ClusterError, ObjectRef
from bot.core.records import Run
from bot.core.secrets import redact
from bot.runs import inventory, namespaces, outputs, recheck
from bot.runs.context import RunContext, retold
from bot.runs.generated import generated
from bot.runs.kinds import WAIT_KINDS, kind_rank
from bot.runs.progress import progress, set_tier


def deploy(ctx: RunContext, run: Run) -> None:
    profile = ctx.store.get_version(run.profile, run.version).profile()
    cluster = ctx.connect(run.cluster)
    p = recheck.plan_for(ctx, run, profile)
    target = plan.Target(cluster=run.cluster, deployment=run.deployment, user=run.requested_by)
    guard = ctx.guards(run.cluster).once() if ctx.guards is not None else None
    if guard is not None:
        plan.enforce(p.tiers, target, guard)  # the cluster's rules as they are now
    if run.deployment_id is not None:
        ctx.store.update_deployment(run.deployment_id, status="deploying")
    overrides = plan.parse_sets(run.options.get("set", {}), profile)
    ctx.hidden.update(secrets.given_values(profile, ctx.catalog, overrides))
    values = _Tiers(ctx, run, cluster, p, target, guard).deploy()
    _prune(cluster, p)
    _succeed(ctx, run.id, p, values)


@dataclass(frozen=True)
class _Tiers:
    """The tiers of one deploy, bottom up: each applied, waited for, and its outputs read for
    the tiers above."""

    ctx: RunContext
    run: Run
    cluster: Cluster
    p: plan.Plan
    target: plan.Target
    guard: plan.Guard | None

    def deploy(self) -> dict[str, dict[str, Any]]:
        below: dict[str, dict[str, Any]] = {}
        for i, tp in enumerate(self.p.tiers):
            made = generated(self.cluster, tp, self.ctx.hidden, self.ctx.password)
            if i < self.run.next_tier:
                # Resumed after a restart: this tier is done; its outputs come back from the cluster.
                below[tp.name] = outputs.read(self.cluster, tp, below, self.ctx.hidden)
                continue
            objs = recheck.filled(self.ctx, self.p, tp, below, made, self.target, self.guard)
            below[tp.name] = self._tier(i, tp, objs, below)
        return below

    def _tier(
        self, i: int, tp: plan.TierPlan, objs: list[dict[str, Any]], below: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply one tier, wait until it is ready, and read its outputs."""
        ctx, run_id = self.ctx, self.run.id
        started = ctx.clock.now()
        set_tier(ctx, run_id, i, TierApplying, state="applying", started_at=started, message="")
        namespaces.ensure(self.cluster, tp, self.p, self.guard)
        self._apply(tp.name, objs)
        set_tier(ctx, run_id, i, TierWaiting, state="waiting")
        self._wait(i, tp.name, objs, started + ctx.wait_timeout)
        values = outputs.read(self.cluster, tp, below, ctx.hidden)
        ctx.store.update_run(run_id, next_tier=i + 1)
        shown = outputs.masked(tp, values, ctx.hidden)
        set_tier(
            ctx, run_id, i, TierReady, state="ready", finished_at=ctx.clock.now(), message="", shown=shown
        )
        return values

    def _apply(self, tier: str, objs: list[dict[str, Any]]) -> None:
        known = inventory.tracked(self.ctx, self.run)
        hidden = self.ctx.hidden
        applied: list[tuple[dict[str, Any], dict[str, Any]]] = []
        try:
            for obj in sorted(objs, key=kind_rank):
                inventory.track(self.ctx, self.run, tier, obj, known)
                applied.append((obj, self.cluster.apply(obj)))
        except ClusterError as exc:
            raise retold(
                exc, f"{tier}: {redact(exc.message, hidden)}", redact(exc.hint or exc.message, hidden)
            ) from None
        finally:
            inventory.record_fields(self.ctx, self.run, applied)

    def _wait(self, index: int, tier: str, objs: list[dict[str, Any]], deadline: float) -> None:
        ctx = self.ctx
        for obj in objs:
            if obj.get("kind") not in WAIT_KINDS:
                continue
            ref = ObjectRef.of(obj)
            result = self.cluster.wait_ready(
                ref,
                timeout=max(1.0, deadline - ctx.clock.now()),
                on_progress=functools.partial(progress, ctx, self.run.id, index),
                fail_fast=ctx.fail_fast,
            )
            if result.ready:
                continue
            why = redact(result.message or "no reason given", ctx.hidden)
            # The port's message carries neither the label nor a timeout: each is said once, here.
            head = ref.label if result.failed else f"{ref.label} not ready after {ctx.wait_timeout:g}s"
            raise PermanentDeployError(f"{tier}: {head}: {why.splitlines()[0]}", f"{head}: {why}")


def _prune(cluster: Cluster, p: plan.Plan) -> None:
    for change in reversed(p.changes):
        if change.action == "prune":
            try:
                cluster.delete(change.ref)
            except ClusterError as exc:
                raise retold(exc, f"pruning {change.ref.label}: {exc.message}", exc.hint or "") from None


def _succeed(ctx: RunContext, run_id: int, p: plan.Plan, values: dict[str, dict[str, Any]]) -> None:
    shown = {tp.name: outputs.masked(tp, values[tp.name], ctx.hidden) for tp in p.tiers if tp.name in values}
    # The deployment first, the run's terminal status last: whoever sees the run succeeded
    # (a waiting test, `status`, a resumed bot) sees the deployment as it now is.
    run = ctx.store.get_run(run_id)
    if run.deployment_id is not None:
        dep = ctx.store.get_deployment(run.cluster, run.deployment)
        ctx.store.update_deployment(
            run.deployment_id,
            status="ready",
            profile=p.profile,
            version=p.version,
            last_good_version=p.version,
            outputs=shown,
            inventory=inventory.settled(p, dep),
        )
    run = ctx.store.update_run(run_id, status="succeeded")
    ctx.store.audit(
        run.requested_by,
        run.channel,
        run.kind,
        f"{run.cluster}/{run.deployment}",
        "ok",
        f"{p.profile}@{p.version}",
    )
