"""What a deployment tracks as applied: added object by object, settled when a deploy succeeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.core import drift, plan
from bot.core.ports import ObjectRef
from bot.core.records import Deployment, Run
from bot.runs.context import RunContext

Key = tuple[str, str, str, str]


def inv_key(item: Mapping[str, Any]) -> Key:
    api = str(item.get("apiVersion") or item.get("api_version") or "")
    return (api, str(item.get("kind")), str(item.get("namespace") or ""), str(item.get("name")))


def tracked(ctx: RunContext, run: Run) -> set[Key]:
    dep = ctx.store.get_deployment(run.cluster, run.deployment)
    return {inv_key(it) for it in dep.inventory} if dep is not None else set()


def track(ctx: RunContext, run: Run, tier: str, obj: Mapping[str, Any], known: set[Key]) -> None:
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
    if run.deployment_id is None or inv_key(item) in known:
        return
    dep = ctx.store.get_deployment(run.cluster, run.deployment)
    if dep is None:
        return
    ctx.store.update_deployment(dep.id, inventory=[*dep.inventory, item])
    known.add(inv_key(item))


def record_fields(
    ctx: RunContext, run: Run, applied: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
) -> None:
    """After a tier's applies: each object's applied fields as the server stored them, digested
    (`bot.core.drift`), so `status` can tell a hand edit from what the bot applied."""
    if run.deployment_id is None or not applied:
        return
    key = ctx.store.drift_key()
    recorded = {
        drift.object_key(obj): drift.to_json(drift.fields(obj, stored, key)) for obj, stored in applied
    }
    ctx.store.record_applied_fields(run.deployment_id, recorded)


def settled(p: plan.Plan, dep: Deployment | None) -> list[dict[str, Any]]:
    """The inventory after `p` succeeded: what it rendered, and what it neither rendered nor
    pruned (left by a run that failed after the plan was made), so the next plan prunes it."""
    rendered = p.inventory()
    gone = {inv_key(c.ref.model_dump(by_alias=True)) for c in p.changes if c.action == "prune"}
    keep = {inv_key(it) for it in rendered} | gone
    leftovers = [it for it in (dep.inventory if dep else []) if inv_key(it) not in keep]
    return [*rendered, *leftovers]
