"""Promotions: deploy to one cluster exactly what succeeded on another (issue 12 item 3).

`promote NAME from A to B [as NAME2]` takes the profile version and the `--set` values of the
run that made NAME ready on A and deploys them to B through the very same path as `deploy`
(access, B's channel rule, change windows, guardrails and approval: no shortcut). The run keeps
its lineage (`bot.core.lineage`) for the card and the progress message, and the audit log gets a
`promote` row next to the deploy's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core import lineage
from bot.core.commands import DeployRequest
from bot.core.errors import NotFound, UserError
from bot.core.records import Actor, Deployment, Run
from bot.core.tickets import DeployTicket
from bot.usecases.access import authorise
from bot.usecases.context import UseCaseContext
from bot.usecases.deploys import Deploys
from bot.usecases.lookup import live


def epoch_of(iso: str) -> float:
    """`2024-05-01T12:00:00Z` (the store's timestamps) as seconds since the epoch."""
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Promotions:
    ctx: UseCaseContext
    deploys: Deploys

    def promote(
        self,
        actor: Actor,
        name: str,
        from_cluster: str,
        to_cluster: str,
        *,
        new_name: str | None = None,
        override_window: bool = False,
    ) -> DeployTicket:
        """Refused unless NAME on `from_cluster` is ready and its latest run succeeded; then a
        deploy of that run's version and `--set` values to `to_cluster` as `new_name` (or NAME)."""
        ctx = self.ctx
        as_name = new_name or name
        target = f"{name}@{from_cluster} → {as_name}@{to_cluster}"
        authorise(ctx, actor, "deploy", target)
        ctx.config.cluster(from_cluster)
        ctx.config.cluster(to_cluster)
        dep = self._source(name, from_cluster, to_cluster)
        run = ctx.store.latest_run(from_cluster, name)
        refusal = self._refusal(dep, run, to_cluster)
        if refusal is not None:
            ctx.store.audit(
                actor.user,
                actor.channel,
                "promote",
                target,
                "denied",
                refusal.message,
                profile=dep.profile,
                cluster=to_cluster,
            )
            raise refusal
        assert run is not None  # _refusal refuses a source without a run
        sets = {str(k): str(v) for k, v in dict(run.options.get("set", {})).items()}
        source = lineage.PromotedFrom(
            cluster=from_cluster,
            deployment=name,
            run=run.id,
            version=run.version,
            succeeded_at=run.updated_at,
            succeeded_at_epoch=epoch_of(run.updated_at),
        )
        req = DeployRequest(
            profile=dep.profile,
            version=run.version,
            cluster=to_cluster,
            name=as_name,
            sets=sets,
            override_window=override_window,
        )
        ticket = self.deploys.deploy(actor, req, options=source.option())
        if ticket.run_id is not None:
            shown_sets = "".join(f" --set {k}={v}" for k, v in sets.items())
            ctx.store.audit(
                actor.user,
                actor.channel,
                "promote",
                target,
                "requested",
                f"run #{ticket.run_id}: {dep.profile}@{run.version}{shown_sets} from run #{run.id} "
                f"on {from_cluster} (succeeded {run.updated_at})",
                profile=dep.profile,
                cluster=to_cluster,
            )
        return ticket

    def _source(self, name: str, from_cluster: str, to_cluster: str) -> Deployment:
        found = live(self.ctx, name)
        there = [d for d in found if d.cluster == from_cluster]
        if there:
            return there[0]
        elsewhere = [d.cluster for d in found if d.cluster != to_cluster]
        where = f" (it is on {', '.join(d.cluster for d in found)})" if found else ""
        hint = (
            f"promote it from where it runs: `/appprofile promote {name} from {elsewhere[0]} to {to_cluster}`"
            if elsewhere
            else f"see `/appprofile deployments`, or deploy a version to {to_cluster} directly: "
            f"`/appprofile deploy PROFILE@VERSION to {to_cluster} as {name}`"
        )
        raise NotFound(f"there is no deployment `{name}` on {from_cluster} to promote{where}", hint)

    def _refusal(self, dep: Deployment, run: Run | None, to_cluster: str) -> UserError | None:
        """Why this source cannot be promoted (its state and what to do), or None: it can."""
        name, cluster = dep.name, dep.cluster
        direct = (
            f"`/appprofile deploy {dep.profile}@VERSION to {to_cluster} as {name}` deploys a version directly"
        )
        status = f"`/appprofile status {name} on {cluster}` shows its last attempt; {direct}"
        if run is None:
            return UserError(
                f"`{name}` on {cluster} has no deploy run to promote: deploy it there first, "
                f"or deploy a version to {to_cluster} directly",
                direct,
            )
        if run.kind == "delete":
            return UserError(
                f"`{name}` on {cluster} is being deleted (run #{run.id} {run.status}): nothing to promote; "
                f"deploy a version to {to_cluster} directly",
                direct,
            )
        if run.status == "succeeded" and dep.status == "ready":
            return None
        if run.status == "succeeded":
            state, todo = f"{dep.status} (run #{run.id} succeeded)", "fix it there first"
        elif run.active:
            waiting = run.status == "awaiting_approval"
            state = (
                f"waiting for approval (run #{run.id})"
                if waiting
                else (f"still deploying (run #{run.id} is {run.status})")
            )
            todo = "wait until it has succeeded there, then promote again"
        elif run.status == "failed":
            state, todo = f"failed (run #{run.id})", "fix it there first"
        else:
            state, todo = f"{run.status} (run #{run.id})", "deploy it there again first"
        return UserError(
            f"`{name}` on {cluster} is {state}: {todo}, or deploy a version to {to_cluster} directly",
            status,
        )
