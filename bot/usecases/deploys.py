"""Deploys and teardowns of a profile's version on a cluster: planned, approved where the
cluster says so, then handed to the run loop. A newer request supersedes a pending one."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core import drift, model, plan, policy, windows
from bot.core.commands import DeployRequest
from bot.core.errors import Conflict, DeployError, NotFound, UserError
from bot.core.records import Actor, Deployment, Run, RunKind, VersionRecord
from bot.core.tickets import DeployTicket
from bot.usecases.access import authorise, check_channel, check_window
from bot.usecases.approvals import card
from bot.usecases.context import UseCaseContext
from bot.usecases.lookup import deployment_on, name_or_current, norm

if TYPE_CHECKING:
    from bot.runs.loop import Executor

NO_CLUSTER = "deployments cannot be deleted: this bot has no cluster configured"


@dataclass(frozen=True)
class Deploys:
    ctx: UseCaseContext

    # -- planning --------------------------------------------------------------------------

    def preview(self, actor: Actor, req: DeployRequest) -> tuple[VersionRecord, plan.Plan]:
        ctx = self.ctx
        rec = ctx.store.get_version(name_or_current(ctx, actor, req.profile), norm(req.version))
        ctx.config.cluster(req.cluster)
        self._refuse_secret_sets(rec.profile(), req.sets)
        target = plan.Target(
            cluster=req.cluster, deployment=req.name or rec.name, user=actor.user_name or actor.user
        )
        existing = self._existing(req.cluster, target.deployment, rec.name)
        drifted = self._drift(existing) if existing is not None else None
        p = plan.build(
            rec.profile(),
            ctx.catalog,
            target,
            charts=ctx.charts,
            sets=req.sets,
            deployed=existing.inventory if existing else [],
            check=ctx.check,
            guard=ctx.guards(req.cluster) if ctx.guards is not None else None,
            drifted=drifted,
        )
        return rec, p

    def _drift(self, dep: Deployment) -> drift.DriftReport | None:
        """The deployment's drift, which this apply will take back (the plan says so). Without
        a run loop there is no cluster to read; unreadable live objects are not drift: the
        apply itself then says what is wrong with the cluster."""
        if self.ctx.executor is None:
            return None
        try:
            kube, store = self.ctx.executor.connect(dep.cluster), self.ctx.store
            return drift.report(kube.read, dep, store.drift_key(), store.applied_fields(dep.id))
        except DeployError:
            return None

    def _existing(self, cluster: str, deployment: str, profile: str) -> Deployment | None:
        """The live deployment this deploy changes, if any; one of another profile is refused."""
        existing = self.ctx.store.get_deployment(cluster, deployment)
        if existing is None or existing.status == "deleted":
            return None
        if existing.profile != profile:
            raise UserError(
                f"`{deployment}` on {cluster} is already a deployment of {existing.profile}",
                f"pick another name with `as NAME`, or delete it first with `/appprofile delete {deployment}`",
            )
        return existing

    def _refuse_secret_sets(self, profile: model.Profile, sets: dict[str, str]) -> None:
        """`--set tier.password=…` would put a secret in the run's options and the audit trail:
        a secret parameter's value belongs in the profile. The value is never repeated."""
        types = {t.name: t.type for t in profile.tiers}
        for key in sets:
            tier, _, param = key.partition(".")
            svc = self.ctx.catalog.services.get(types.get(tier, ""))
            if svc is not None and any(p.name == param and p.secret for p in svc.params):
                raise UserError(
                    f"`--set {tier}.{param}` is refused: `{param}` is a secret parameter of tier "
                    f"`{tier}` ({svc.type}), and --set values are not kept secret",
                    f"put the value in the profile instead (`/appprofile version {profile.name}`), "
                    "or leave it out to have one generated at the first deploy",
                )

    # -- deploying -------------------------------------------------------------------------

    def deploy(
        self,
        actor: Actor,
        req: DeployRequest,
        *,
        kind: RunKind = "deploy",
        options: Mapping[str, object] | None = None,
    ) -> DeployTicket:
        """Deploys, retries, rollbacks, upgrades and promotions alike: access, the cluster's
        channel rule and change windows first (refusals audited), then the plan, then approval or
        the queue. `options`: more of the run's options next to `set` (a promotion's lineage)."""
        target = f"{req.profile or ''} → {req.cluster}"
        authorise(self.ctx, actor, "deploy", f"{req.profile or ''}@{req.cluster}")
        check_channel(self.ctx, actor, req.cluster, "deploy", target)
        block = check_window(self.ctx, actor, req.cluster, "deploy", target, override=req.override_window)
        rec, p = self.preview(actor, req)
        executor = self.ctx.executor
        if executor is None:
            return DeployTicket(run_id=None, plan=p, preview_only=True)
        rule = self.ctx.config.cluster(req.cluster).approval
        if rule is None:
            # `check_window` refuses an override on a cluster without approval: no block here.
            ticket = executor.request_deploy(
                actor.user, actor.channel, rec, p, req.sets, kind=kind, options=options
            )
        else:
            ticket = self._request_approval(actor, executor, rec, p, req.sets, kind, rule, block, options)
        if req.override_window and block is None:
            note = (
                f"No change window of `{req.cluster}` is closed now, so `--override-window` changed nothing."
            )
            ticket = ticket.model_copy(update={"window_note": note})
        return ticket

    def _request_approval(
        self,
        actor: Actor,
        executor: Executor,
        rec: VersionRecord,
        p: plan.Plan,
        sets: Mapping[str, str],
        kind: RunKind,
        rule: policy.Approval,
        block: windows.Block | None = None,
        options: Mapping[str, object] | None = None,
    ) -> DeployTicket:
        # A newer request for the same deployment supersedes the pending one.
        older = self.ctx.store.pending_approval_run(p.cluster, p.deployment)
        ticket = executor.request_deploy(
            actor.user,
            actor.channel,
            rec,
            p,
            sets,
            kind=kind,
            awaiting_approval=True,
            expires_in=float(rule.expires_after),
            options={**(options or {}), **override_options(block)},
        )
        if block is not None:
            note = windows.override_note(block, rule.required + windows.OVERRIDE_EXTRA)
            target = f"{rec.name}@{rec.version} → {p.cluster}/{p.deployment}"
            self.ctx.store.audit(
                actor.user, actor.channel, "deploy", target, "override", f"run #{ticket.run_id}: {note}"
            )
            ticket = ticket.model_copy(update={"window_note": note})
        self._supersede(actor, older, ticket.run_id)
        if ticket.run_id is not None:
            card(self.ctx, ticket.run_id)
        return ticket

    def retry(self, actor: Actor, run_id: int, *, rollback: bool = False) -> DeployTicket:
        """Retry a run (same version and --set), or roll back to the last good version. A change
        window gates these as it gates a deploy; an earlier run's `--override-window` is not
        carried over: inside a window the Retry or Roll back button is refused, and the person
        asks again with the deploy command and `--override-window` (the refusal names it)."""
        run = self.ctx.store.get_run(run_id)
        version = run.version
        if rollback:
            dep = self.ctx.store.get_deployment(run.cluster, run.deployment)
            if dep is None or not dep.last_good_version:
                raise UserError(f"{run.deployment} has no earlier successful version to roll back to")
            version = dep.last_good_version
        req = DeployRequest(
            profile=run.profile,
            version=version,
            cluster=run.cluster,
            name=run.deployment,
            sets=dict(run.options.get("set", {})),
        )
        try:
            return self.deploy(actor, req, kind="rollback" if rollback else "deploy")
        except windows.WindowClosed as exc:
            raise ask_again(exc, req) from None

    def upgrade(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        """The Upgrade button: the profile's latest version, through the same checks as a deploy."""
        dep = self.ctx.store.get_deployment(cluster, name)
        if dep is None or dep.status == "deleted":
            raise NotFound(f"there is no deployment `{name}` on {cluster}", "see `/appprofile deployments`")
        req = DeployRequest(profile=dep.profile, version=None, cluster=cluster, name=name, sets={})
        try:
            return self.deploy(actor, req)
        except windows.WindowClosed as exc:
            raise ask_again(exc, req) from None

    # -- tearing down ----------------------------------------------------------------------

    def delete_deployment(
        self,
        actor: Actor,
        name: str,
        cluster: str | None,
        *,
        purge: bool = False,
        override_window: bool = False,
    ) -> str:
        if self.ctx.executor is None:
            raise UserError(NO_CLUSTER)
        dep = deployment_on(self.ctx, name, cluster, "delete")
        # Tearing down is a change to the cluster like a deploy: same channel rule, same change
        # windows (and `--override-window`), same approval.
        check_channel(self.ctx, actor, dep.cluster, "delete", dep.ref)
        block = check_window(self.ctx, actor, dep.cluster, "delete", dep.ref, override=override_window)
        rule = self.ctx.config.cluster(dep.cluster).approval
        if rule is None:
            run_id = self._request_teardown(actor, dep, purge=purge)
            return f"Deleting deployment {name} on {dep.cluster} (run #{run_id}); progress is in the channel."
        older = self.ctx.store.pending_approval_run(dep.cluster, dep.name)
        run_id = self._request_teardown(actor, dep, purge=purge, expires_in=float(rule.expires_after))
        note = ""
        if block is not None:
            # The teardown waits for approval, so nothing has seen its options yet.
            run = self.ctx.store.get_run(run_id)
            self.ctx.store.update_run(run_id, options={**run.options, **override_options(block)})
            note = windows.override_note(block, rule.required + windows.OVERRIDE_EXTRA, deleting=True)
            self.ctx.store.audit(
                actor.user, actor.channel, "delete", dep.ref, "override", f"run #{run_id}: {note}"
            )
            note = f" {note}."
        self._supersede(actor, older, run_id)
        card(self.ctx, run_id)
        return f"Deleting {name} on {dep.cluster} needs approval: the card is in the channel (run #{run_id}).{note}"

    def _request_teardown(
        self, actor: Actor, dep: Deployment, *, purge: bool, expires_in: float | None = None
    ) -> int:
        """The executor's teardown request for this very deployment (on its own cluster)."""
        if self.ctx.executor is None:
            raise UserError(NO_CLUSTER)
        return self.ctx.executor.request_delete(
            actor.user,
            actor.channel,
            dep.name,
            cluster=dep.cluster,
            purge=purge,
            awaiting_approval=expires_in is not None,
            expires_in=expires_in,
        )

    def _supersede(self, actor: Actor, older: Run | None, newer: int | None) -> None:
        """A newer request for the same deployment supersedes the pending one; its card says so."""
        if older is None or self.ctx.executor is None:
            return
        try:
            self.ctx.store.update_run(older.id, status="superseded", only_if_status=("awaiting_approval",))
        except Conflict:  # the store's only_if_status: a lost race
            return  # decided in the meantime; nothing to supersede
        self.ctx.store.audit(
            actor.user, actor.channel, "reject", f"run #{older.id}", "superseded", f"by run #{newer}"
        )
        card(self.ctx, older.id)


def override_options(block: windows.Block | None) -> dict[str, object]:
    """What a run keeps of the change window it was requested in with `--override-window`: the
    approvals count `windows.OVERRIDE_EXTRA` more (`options.override_window`), the card says which."""
    if block is None:
        return {}
    return {"override_window": True, "window": block.window.label, "window_rule": block.rule}


def ask_again(exc: windows.WindowClosed, req: DeployRequest) -> windows.WindowClosed:
    """A button (Retry, Roll back, Upgrade, Revert) refused by a change window: a button cannot add
    `--override-window`, so the hint names the deploy command that does the same with it."""
    ref = f"{req.profile}@{req.version}" if req.version else str(req.profile)
    words = ["/appprofile", "deploy", ref]
    words += ["to", req.cluster, "as", req.name or str(req.profile)]
    for key, value in req.sets.items():
        words += ["--set", f"{key}={value}"]
    again = shlex.join([*words, "--override-window"])
    hint = (exc.hint or "").replace("add `--override-window`", f"run `{again}`")
    return windows.WindowClosed(exc.message, hint, block=exc.block)
