"""Delete runs: the teardown planned as prunes, then carried out tier by tier, top down."""

from __future__ import annotations

from typing import Any

from bot.core import render
from bot.core.errors import NotFound, PermanentDeployError
from bot.core.events import TierApplying, TierReady
from bot.core.ports import Cluster, ObjectRef, Repositories
from bot.core.records import Deployment, Run, TierState
from bot.runs.context import RunContext
from bot.runs.inventory import inv_key
from bot.runs.kinds import kind_rank
from bot.runs.progress import set_tier


def the_live_deployment(store: Repositories, name: str, cluster: str | None) -> Deployment:
    """The one live deployment `name` (on `cluster`, if named) a teardown is for."""
    live = [d for d in store.find_deployments(name) if d.status != "deleted" and cluster in (None, d.cluster)]
    if len(live) != 1:
        where = f" on {cluster}" if cluster else ""
        raise NotFound(
            f"there is no single live deployment named `{name}`{where}", "see `/appprofile deployments`"
        )
    return live[0]


def teardown_plan(dep: Deployment, purge: bool) -> dict[str, Any]:
    """The teardown as a plan of prunes: the approval card shows it and binds to its fingerprint."""
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
    return {"changes": changes, "purge": purge}


def teardown(ctx: RunContext, run: Run) -> None:
    dep = ctx.store.get_deployment(run.cluster, run.deployment)
    if dep is None:
        raise PermanentDeployError(f"deployment {run.deployment} on {run.cluster} no longer exists")
    cluster = ctx.connect(run.cluster)
    purge = bool(run.options.get("purge"))
    ctx.store.update_deployment(dep.id, status="deleting")
    _delete_tiers(ctx, run, dep, cluster, purge)
    _delete_unrecorded(dep, cluster, purge)
    if purge:
        # Namespaces go last and take the PVCs and generated Secrets with them.
        for ns in sorted({it["namespace"] for it in dep.inventory if it.get("namespace")}):
            cluster.delete(ObjectRef(api_version="v1", kind="Namespace", name=ns))
    # As for a deploy: the deployment's new state first, the run's terminal status last.
    ctx.store.update_deployment(dep.id, status="deleted", inventory=[], outputs={})
    ctx.store.update_run(run.id, status="succeeded")
    ctx.store.audit(
        run.requested_by, run.channel, "delete", f"{run.cluster}/{run.deployment}", "ok", f"purge={purge}"
    )


def _delete_tiers(ctx: RunContext, run: Run, dep: Deployment, cluster: Cluster, purge: bool) -> None:
    """What the deployment tracks, the top tier first; volumes stay unless purged."""
    tiers_in_order: list[str] = []
    for item in dep.inventory:
        if item["tier"] not in tiers_in_order:
            tiers_in_order.append(item["tier"])
    states = [TierState(name=t, state="pending") for t in reversed(tiers_in_order)]
    ctx.store.update_run(run.id, tiers=states)
    for i, tier in enumerate(reversed(tiers_in_order)):
        set_tier(
            ctx, run.id, i, TierApplying, state="applying", started_at=ctx.clock.now(), message="deleting"
        )
        items = [it for it in dep.inventory if it["tier"] == tier]
        for it in sorted(items, key=kind_rank, reverse=True):
            if render.kept_without_purge(it["kind"], it["name"]) and not purge:
                continue
            ref = ObjectRef(
                api_version=it["apiVersion"], kind=it["kind"], name=it["name"], namespace=it["namespace"]
            )
            cluster.delete(ref)
        set_tier(ctx, run.id, i, TierReady, state="deleted", finished_at=ctx.clock.now(), message="")


def _delete_unrecorded(dep: Deployment, cluster: Cluster, purge: bool) -> None:
    """Anything else labelled as ours (e.g. applied by a run that crashed before recording it)."""
    tracked = {inv_key(it) for it in dep.inventory}
    for ref in cluster.list_owned(dep.name):
        if ref.kind == "Namespace" or inv_key(ref.model_dump()) in tracked:
            continue
        if render.kept_without_purge(ref.kind, ref.name) and not purge:
            continue
        cluster.delete(ref)
