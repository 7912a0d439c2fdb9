"""Use cases: what a person can do, whatever the adapter they came through (Slack, CLI).

Every method checks the policy, does the work through the store and the executor, and writes
the audit log. Errors a person can fix are `UserError`s; the adapters show them with the hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bot.core import approvals, model, plan, policy, secrets, validate
from bot.core.catalog import Catalog, ServiceType
from bot.core.commands import DeployRequest
from bot.core.errors import NotFound, UserError
from bot.core.records import (
    Actor,
    AuditEntry,
    Decision,
    Deployment,
    ProfileSummary,
    Run,
    RunKind,
    VersionKind,
    VersionRecord,
)

if TYPE_CHECKING:
    from bot.executor import Executor
    from bot.store.db import Store


class DeployTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int | None
    plan: plan.Plan
    queued_position: int = 0
    awaiting_approval: bool = False
    preview_only: bool = False


class DeploymentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    run: Run | None = None
    update: str | None = None  # a newer version of the profile, if there is one


@dataclass
class Service:
    store: Store
    catalog: Catalog
    config: policy.Config
    charts: plan.ChartRenderer
    # Slack usergroups a user belongs to (for access lists and approvers); empty without Slack.
    groups_of: Callable[[str], set[str]] = field(default=lambda _user: set())
    executor: Executor | None = None
    # Schema check of every rendered object while planning (bot.kube.schema in production).
    check: plan.SchemaCheck | None = None

    # -- reading ---------------------------------------------------------------------------

    def help_text(self) -> str:
        return HELP

    def list_profiles(self) -> list[ProfileSummary]:
        return self.store.list_profiles()

    def _name_or_current(self, actor: Actor, name: str | None) -> str:
        if name:
            return name
        current = self.store.get_current(actor.channel)
        if current is None:
            raise UserError(
                "this channel has no current profile yet",
                "name one (`/appprofile show NAME`) or pick it with `/appprofile use NAME`",
            )
        return current

    def show(self, actor: Actor, name: str | None, version: str | None) -> VersionRecord:
        rec = self.store.get_version(self._name_or_current(actor, name), _norm(version))
        self.store.set_current(actor.channel, rec.name)
        return rec

    def versions(self, actor: Actor, name: str | None) -> list[VersionRecord]:
        name = self._name_or_current(actor, name)
        found = self.store.list_versions(name)
        if not found:
            self.store.get_version(name)  # raises NotFound with "did you mean" over the profiles
        return found

    def service_types(self) -> list[ServiceType]:
        return list(self.catalog.services.values())

    def service_type(self, name: str) -> ServiceType:
        return self.catalog.get(name)

    def use(self, actor: Actor, name: str) -> VersionRecord:
        rec = self.store.get_version(name)
        self.store.set_current(actor.channel, rec.name)
        self.store.audit(actor.user, actor.channel, "use", rec.name, "ok")
        return rec

    def current(self, actor: Actor) -> str | None:
        return self.store.get_current(actor.channel)

    def diff(self, actor: Actor, name: str, v1: str, v2: str) -> str:
        a = self.store.get_version(name, _norm(v1))
        b = self.store.get_version(name, _norm(v2))
        # Secrets are masked on both sides; one that changed shows as changed, never its value.
        before, after = secrets.masked_pair(a.yaml, b.yaml, self.catalog)
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=a.name + "@" + a.version,
            tofile=b.name + "@" + b.version,
        )
        return "".join(lines) or f"{name} {a.version} and {b.version} are identical"

    def export(self, actor: Actor, name: str, version: str | None) -> str:
        return self.store.get_version(name, _norm(version)).yaml

    # -- changing profiles -----------------------------------------------------------------

    def _authorise(self, actor: Actor, action: policy.Action, target: str) -> None:
        try:
            policy.check_action(self.config, action, actor.user, self.groups_of(actor.user))
        except UserError:
            self.store.audit(actor.user, actor.channel, action, target, "denied")
            raise

    def _save(
        self,
        actor: Actor,
        profile: model.Profile,
        *,
        kind: VersionKind,
        source: str | None,
        text: str | None = None,
    ) -> VersionRecord:
        validate.profile(profile, self.catalog)
        rec = self.store.create_version(
            profile, actor=actor.user, channel=actor.channel, kind=kind, source=source, text=text
        )
        self.store.set_current(actor.channel, rec.name)
        return rec

    def create(
        self,
        actor: Actor,
        yaml_text: str,
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> VersionRecord:
        data = model.parse_mapping(yaml_text)
        if name:
            data["name"] = name
        if version:
            data["version"] = model.normalize_version(version)
        if description is not None:
            data["description"] = description
        if tags is not None:
            data["tags"] = tags
        profile = model.from_data(data)
        self._authorise(actor, "create", profile.ref)
        # Kept as written when the form changed nothing (the store checks it is this profile).
        return self._save(actor, profile, kind="create", source=None, text=yaml_text)

    def import_yaml(self, actor: Actor, yaml_text: str) -> VersionRecord:
        profile = model.from_yaml(yaml_text)
        self._authorise(actor, "create", profile.ref)
        return self._save(actor, profile, kind="import", source=None, text=yaml_text)

    def new_version(
        self,
        actor: Actor,
        name: str | None,
        version: str,
        *,
        yaml_text: str | None = None,
        from_version: str | None = None,
    ) -> VersionRecord:
        name = self._name_or_current(actor, name)
        new = model.normalize_version(version)
        source = self.store.get_version(name, _norm(from_version))
        self._authorise(actor, "version", f"{name}@{new}")
        if yaml_text is None:
            profile = source.profile().with_identity(version=new)
        else:
            data = model.parse_mapping(yaml_text)
            if data.get("name", name) != name:
                raise UserError(
                    f"the YAML names profile `{data.get('name')}`, but this is a new version of `{name}`",
                    "to make a copy under a new name use `/appprofile clone`",
                    field="yaml",
                )
            data["name"] = name
            data["version"] = new
            profile = model.from_data(secrets.unmask(data, source.profile(), self.catalog))
        return self._save(actor, profile, kind="version", source=f"{source.name}@{source.version}")

    def clone(
        self,
        actor: Actor,
        source: str | None,
        source_version: str | None,
        new_name: str,
        *,
        new_version: str | None = None,
    ) -> VersionRecord:
        src = self.store.get_version(self._name_or_current(actor, source), _norm(source_version))
        version = model.normalize_version(new_version) if new_version else src.version
        self._authorise(actor, "clone", f"{new_name}@{version}")
        data = model.to_data(src.profile())
        data["name"] = new_name
        data["version"] = version
        profile = model.from_data(data)
        return self._save(actor, profile, kind="clone", source=f"{src.name}@{src.version}")

    def delete(self, actor: Actor, name: str, version: str | None, *, purge: bool = False) -> str:
        target = f"{name}@{_norm(version)}" if version else name
        self._authorise(actor, "delete", target)
        if version is None and self._live_deployment(name) is not None:
            # `delete shop` names a deployment when one is live: tearing it down is what the
            # person means (the profile could not be deleted while it is deployed anyway).
            return self.delete_deployment(actor, name, purge=purge)
        if version:
            self.store.delete_version(name, _norm(version) or "", actor=actor.user, channel=actor.channel)
            return f"Deleted {name} {_norm(version)}."
        self.store.delete_profile(name, actor=actor.user, channel=actor.channel)
        return f"Deleted profile {name} and all its versions."

    def _live_deployment(self, name: str) -> Deployment | None:
        live = [d for d in self.store.find_deployments(name) if d.status != "deleted"]
        if len(live) > 1:
            where = ", ".join(d.cluster for d in live)
            raise UserError(
                f"`{name}` is deployed on several clusters ({where})", "delete it on one cluster at a time"
            )
        return live[0] if live else None

    def describe_delete(self, actor: Actor, name: str, version: str | None, *, purge: bool = False) -> str:
        """What `delete NAME[@V]` would do, said before the person confirms it."""
        dep = None if version else self._live_deployment(name)
        if dep is not None:
            kept = (
                "persistent volumes and generated passwords are deleted too"
                if purge
                else ("persistent volumes and generated passwords are kept (add --purge to delete them)")
            )
            gate = self.config.clusters.get(dep.cluster)
            approval = " It needs approval on this cluster." if gate and gate.approval else ""
            return (
                f"This tears down deployment *{dep.name}* on `{dep.cluster}` ({dep.profile}@{dep.version}, "
                f"{len(dep.inventory)} objects); {kept}.{approval}"
            )
        if version:
            rec = self.store.get_version(name, _norm(version))
            return f"This deletes version `{rec.version}` of profile *{name}*. It cannot be undone."
        count = len(self.versions(actor, name))
        return f"This deletes profile *{name}* and all {count} of its versions. It cannot be undone."

    def delete_deployment(self, actor: Actor, name: str, *, purge: bool = False) -> str:
        if self.executor is None:
            raise UserError("deployments cannot be deleted: this bot has no cluster configured")
        dep = self._live_deployment(name)
        if dep is None:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        # Tearing down is a change to the cluster like a deploy: same channel rule, same approval.
        try:
            policy.check_channel(self.config, dep.cluster, actor.channel)
        except UserError:
            self.store.audit(actor.user, actor.channel, "delete", dep.ref, "denied")
            raise
        rule = self.config.cluster(dep.cluster).approval
        if rule is None:
            run_id = self.executor.request_delete(actor.user, actor.channel, name, purge=purge)
            return f"Deleting deployment {name} on {dep.cluster} (run #{run_id}); progress is in the channel."
        older = self.store.pending_approval_run(dep.cluster, dep.name)
        run_id = self.executor.request_delete(
            actor.user,
            actor.channel,
            name,
            purge=purge,
            awaiting_approval=True,
            expires_in=float(rule.expires_after),
        )
        self._supersede(actor, older, run_id)
        self.executor.reporter.approval(run_id)
        return f"Deleting {name} on {dep.cluster} needs approval: the card is in the channel (run #{run_id})."

    def _supersede(self, actor: Actor, older: Run | None, newer: int | None) -> None:
        """A newer request for the same deployment supersedes the pending one; its card says so."""
        if older is None or self.executor is None:
            return
        try:
            self.store.update_run(older.id, status="superseded", only_if_status=("awaiting_approval",))
        except UserError:
            return  # decided in the meantime; nothing to supersede
        self.store.audit(
            actor.user, actor.channel, "reject", f"run #{older.id}", "superseded", f"by run #{newer}"
        )
        self.executor.reporter.approval(older.id)

    # -- deploying -------------------------------------------------------------------------

    def preview(self, actor: Actor, req: DeployRequest) -> tuple[VersionRecord, plan.Plan]:
        name = self._name_or_current(actor, req.profile)
        rec = self.store.get_version(name, _norm(req.version))
        self.config.cluster(req.cluster)
        target = plan.Target(
            cluster=req.cluster, deployment=req.name or rec.name, user=actor.user_name or actor.user
        )
        existing = self.store.get_deployment(req.cluster, target.deployment)
        if existing and existing.status != "deleted" and existing.profile != rec.name:
            raise UserError(
                f"`{target.deployment}` on {req.cluster} is already a deployment of {existing.profile}",
                f"pick another name with `as NAME`, or delete it first with `/appprofile delete {target.deployment}`",
            )
        deployed = existing.inventory if existing and existing.status != "deleted" else []
        p = plan.build(
            rec.profile(),
            self.catalog,
            target,
            charts=self.charts,
            sets=req.sets,
            deployed=deployed,
            check=self.check,
        )
        return rec, p

    def deploy(self, actor: Actor, req: DeployRequest, *, kind: RunKind = "deploy") -> DeployTicket:
        self._authorise(actor, "deploy", f"{req.profile or ''}@{req.cluster}")
        try:
            policy.check_channel(self.config, req.cluster, actor.channel)
        except UserError:
            self.store.audit(
                actor.user, actor.channel, "deploy", f"{req.profile or ''} → {req.cluster}", "denied"
            )
            raise
        rec, p = self.preview(actor, req)
        if self.executor is None:
            return DeployTicket(run_id=None, plan=p, preview_only=True)
        rule = self.config.cluster(req.cluster).approval
        if rule is None:
            return self.executor.request_deploy(actor.user, actor.channel, rec, p, req.sets, kind=kind)
        # A newer request for the same deployment supersedes the pending one.
        older = self.store.pending_approval_run(req.cluster, p.deployment)
        ticket = self.executor.request_deploy(
            actor.user,
            actor.channel,
            rec,
            p,
            req.sets,
            kind=kind,
            awaiting_approval=True,
            expires_in=float(rule.expires_after),
        )
        self._supersede(actor, older, ticket.run_id)
        if ticket.run_id is not None:
            self.executor.reporter.approval(ticket.run_id)
        return ticket

    # -- approvals -------------------------------------------------------------------------

    def approval_tally(self, run: Run) -> tuple[list[str], int]:
        cc = self.config.clusters.get(run.cluster)
        if cc is None or cc.approval is None:
            return [], 1
        t = approvals.tally(cc.approval, run, self.store.approvals(run.id))
        return t.approved_by, t.required

    def decide(self, actor: Actor, run_id: int, decision: str, card_fingerprint: str) -> str:
        """Approve or reject a pending deploy; everything is re-checked from the store."""
        run = self.store.get_run(run_id)
        cc = self.config.clusters.get(run.cluster)
        if cc is None or cc.approval is None or self.executor is None:
            raise UserError("this deploy does not need approval")
        action: Decision = "approve" if decision == "approve" else "reject"
        try:
            approvals.check_decision(
                cc.approval,
                run,
                user=actor.user,
                groups=self.groups_of(actor.user),
                card_fingerprint=card_fingerprint,
                now_iso=self.store.timestamp(),
            )
        except UserError as exc:
            self.store.audit(
                actor.user,
                actor.channel,
                action,
                f"run #{run.id} {run.cluster}/{run.deployment}",
                "denied",
                exc.message,
            )
            raise
        if not self.store.add_approval(run.id, actor.user, action, run.fingerprint):
            return "You have already decided on this request; nothing changed."
        self.store.audit(
            actor.user,
            actor.channel,
            action,
            f"run #{run.id} {run.cluster}/{run.deployment}",
            "ok",
            run.fingerprint[:12],
        )
        t = approvals.tally(cc.approval, run, self.store.approvals(run.id))
        reply = f"Recorded your {action}: {len(t.approved_by)} of {t.required} approvals."
        try:
            if t.outcome == "rejected":
                self.store.update_run(run.id, status="rejected", only_if_status=("awaiting_approval",))
                reply = "Rejected; the request has ended."
            elif t.outcome == "approved":
                self.store.update_run(run.id, status="queued", only_if_status=("awaiting_approval",))
                self.executor.kick(run.cluster, run.deployment)
                reply = "Approved; the deploy is starting."
        except UserError:
            reply = "This request was decided by someone else a moment ago."
        self.executor.reporter.approval(run.id)
        return reply

    def expire_due(self) -> list[int]:
        """Expire pending approvals whose time is up; rewrite their cards. Survives restarts:
        the deadline is in the store, and this runs at start-up and then periodically."""
        now = self.store.timestamp()
        expired: list[int] = []
        for run in self.store.runs_with_status("awaiting_approval"):
            if run.expires_at is None or run.expires_at > now:
                continue
            try:
                self.store.update_run(run.id, status="expired", only_if_status=("awaiting_approval",))
            except UserError:
                continue
            self.store.audit(
                "appprofile",
                run.channel,
                "expire",
                f"run #{run.id} {run.cluster}/{run.deployment}",
                "expired",
            )
            if self.executor is not None:
                self.executor.reporter.approval(run.id)
            expired.append(run.id)
        return expired

    def retry(self, actor: Actor, run_id: int, *, rollback: bool = False) -> DeployTicket:
        """Retry a run (same version and --set), or roll back to the last good version."""
        run = self.store.get_run(run_id)
        version = run.version
        if rollback:
            dep = self.store.get_deployment(run.cluster, run.deployment)
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
        return self.deploy(actor, req, kind="rollback" if rollback else "deploy")

    def deployments(self, actor: Actor) -> list[DeploymentView]:
        return [
            DeploymentView(deployment=d, update=self.update_available(d))
            for d in self.store.list_deployments()
            if d.status != "deleted"
        ]

    def status(self, actor: Actor, name: str | None) -> list[DeploymentView]:
        deps = self.store.find_deployments(name) if name else [v.deployment for v in self.deployments(actor)]
        if name and not deps:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        return [
            DeploymentView(
                deployment=d, run=self.store.latest_run(d.cluster, d.name), update=self.update_available(d)
            )
            for d in deps
        ]

    def update_available(self, dep: Deployment) -> str | None:
        """The profile's newest version when it is newer than what the deployment runs."""
        if dep.status == "deleted":
            return None
        latest = self.store.latest_version(dep.profile)
        if latest and model.version_key(latest) > model.version_key(dep.version):
            return latest
        return None

    def upgrade(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        dep = self.store.get_deployment(cluster, name)
        if dep is None or dep.status == "deleted":
            raise NotFound(f"there is no deployment `{name}` on {cluster}", "see `/appprofile deployments`")
        req = DeployRequest(profile=dep.profile, version=None, cluster=cluster, name=name, sets={})
        return self.deploy(actor, req)

    def outputs(self, actor: Actor, name: str) -> dict[str, dict[str, str]]:
        deps = [d for d in self.store.find_deployments(name) if d.status != "deleted"]
        if not deps:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        return deps[0].outputs

    def audit(self, actor: Actor, limit: int, profile: str | None, cluster: str | None) -> list[AuditEntry]:
        return self.store.list_audit(limit=limit, profile=profile, cluster=cluster)


def _norm(version: str | None) -> str | None:
    return model.normalize_version(version) if version else None


HELP = """\
*App Profiles* — versioned stacks of service tiers, deployed from this channel.
• `/appprofile create` — paste YAML in a ``` block, or get a form
• `/appprofile list` · `show NAME[@V]` · `versions NAME` · `diff NAME V1 V2` · `export NAME@V`
• `/appprofile version NAME NEW [--from V]` — a new version, edited in a form
• `/appprofile clone SRC[@V] NEW [--version V]` · `clone v2` (the channel's current profile)
• `/appprofile use NAME` — make NAME this channel's current profile
• `/appprofile services [TYPE]` — tier types, their parameters and outputs
• `/appprofile deploy [PROFILE[@V]] [to] CLUSTER [as NAME] [--set tier.key=value]`
• `/appprofile status [NAME]` · `deployments` · `outputs NAME` · `delete NAME[@V] [--purge]` · `audit [N]`
Versions: `v2`, `2` and `2.0` all mean 2.0.0."""
