"""What a run applies, checked again as it will be applied: the plan against the deployment as
it now is, and each tier's objects once their holes are filled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core import holes, plan
from bot.core.errors import PermanentDeployError
from bot.core.events import RunStarted
from bot.core.model import Profile
from bot.core.records import Run
from bot.runs.context import RunContext


def plan_for(ctx: RunContext, run: Run, profile: Profile) -> plan.Plan:
    """The plan the run was requested (and approved) with, applied as it is while the
    deployment is as it was planned against. If another run changed the deployment
    meanwhile, plan again: an approval holds for the plan it was given to only; a queued
    run simply takes the fresh plan."""
    p = plan.Plan.model_validate(run.plan)
    if run.next_tier > 0:
        return p  # resumed: finish the plan this run started
    dep = ctx.store.get_deployment(run.cluster, run.deployment)
    deployed = dep.inventory if dep is not None and dep.status != "deleted" else []
    if p.base and p.base == plan.inventory_digest(deployed):
        return p
    fresh = _replanned(ctx, run, profile, deployed)
    if fresh.fingerprint == run.fingerprint:
        return fresh
    if run.approval_ts is not None:
        raise PermanentDeployError(
            f"the plan changed since it was approved ({run.fingerprint[:12]} → {fresh.short_fingerprint}: "
            f"{fresh.summary()})",
            "the deployment changed while this request waited; request the deploy again for a new approval",
        )
    ctx.store.update_run(run.id, plan=fresh.model_dump(mode="json"), fingerprint=fresh.fingerprint)
    ctx.publisher.publish(RunStarted, run.id)  # the card now shows the fresh plan
    return fresh


def _replanned(ctx: RunContext, run: Run, profile: Profile, deployed: list[dict[str, Any]]) -> plan.Plan:
    target = plan.Target(cluster=run.cluster, deployment=run.deployment, user=run.requested_by)
    return plan.build(
        profile,
        ctx.catalog,
        target,
        charts=ctx.charts,
        sets=run.options.get("set", {}),
        deployed=deployed,
        check=ctx.check,
        guard=ctx.guards(run.cluster) if ctx.guards is not None else None,
    )


def filled(
    ctx: RunContext,
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
    for obj in objs if ctx.check is not None else []:
        wrong = ctx.check(obj) if ctx.check is not None else []
        if wrong:
            raise plan.invalid_object(tp.name, obj, wrong)
    if guard is not None:
        plan.enforce(p.tiers, target, guard, [(tp.name, obj) for obj in objs])
    return objs
