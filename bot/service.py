"""Use cases: what a person can do, whatever the adapter they came through (Slack, CLI).

Every method checks the policy, does the work through the store and the executor, and writes
the audit log. Errors a person can fix are `UserError`s; the adapters show them with the hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from bot.core import approvals, model, plan, policy, ports, secrets, validate
from bot.core.catalog import Catalog, ServiceType
from bot.core.commands import USAGE, DeployRequest
from bot.core.errors import Conflict, Forbidden, NotFound, UserError
from bot.core.events import ApprovalChanged
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
from bot.core.tickets import DeployTicket

if TYPE_CHECKING:
    from bot.executor import Executor
    from bot.publisher import Publisher


class DeploymentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    run: Run | None = None
    # A newer version of the profile to upgrade to; never one whose last attempt here just failed.
    update: str | None = None
    # The latest run when it failed: what was tried, where it stopped; `Retry` re-runs it.
    failed_attempt: Run | None = None


DeleteKind = Literal["profile", "version", "deployment"]


class DeleteTarget(BaseModel):
    """One thing `delete` can remove: a profile, one version of it, or a deployment on a cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DeleteKind
    name: str
    version: str | None = None
    cluster: str | None = None
    purge: bool = False


@dataclass(frozen=True)
class Service:
    store: ports.Repositories
    catalog: Catalog
    config: policy.Config
    charts: plan.ChartRenderer
    clock: ports.Clock
    # Slack usergroups a user belongs to (for access lists and approvers); empty without Slack.
    groups_of: Callable[[str], set[str]] = field(default=lambda _user: set())
    # The run loop and where approval cards are shown; both None in an offline service (the CLI).
    executor: Executor | None = None
    publisher: Publisher | None = None
    # Schema check of every rendered object while planning (bot.kube.schema in production).
    check: plan.SchemaCheck | None = None
    # The cluster's guardrails and the ports they need (scope from discovery, namespace owners).
    guards: Callable[[str], plan.Guard] | None = None

    # -- reading ---------------------------------------------------------------------------

    def help_text(self) -> str:
        return HELP

    def run(self, run_id: int) -> Run:
        """A run as stored (its plan: what it applies), for the "View plan" button."""
        return self.store.get_run(run_id)

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
        # Reading never changes the channel's current profile: only `use` and `create` do.
        return self.store.get_version(self._name_or_current(actor, name), _norm(version))

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
        if secrets.given_values(profile, self.catalog) or secrets.manifest_secrets(profile):
            # Stored only sealed (APPPROFILE_SECRET_KEY); never in clear text.
            self.store.require_sealing(f"a secret value in {profile.ref}")
        rec = self.store.create_version(
            profile, actor=actor.user, channel=actor.channel, kind=kind, source=source, text=text
        )
        if kind == "create":
            self.store.set_current(actor.channel, rec.name)
        return rec

    def _refuse_existing(self, name: str, *, field: str | None = None, what: str = "create") -> None:
        """`create`, `import` and `clone` make new profiles; a new version is `version`'s job."""
        latest = self.store.latest_version(name)
        if latest is None:
            return
        major, minor, _ = model.version_key(latest)
        following = f"{major}.{minor + 1}.0"
        raise Conflict(
            f"profile `{name}` already exists (latest version {latest}); `{what}` makes new profiles only",
            f"to add a version type `/appprofile version {name} {following}`",
            field=field,
        )

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
        self._refuse_existing(profile.name, field="name" if name else "yaml")
        # Kept as written when the form changed nothing (the store checks it is this profile).
        return self._save(actor, profile, kind="create", source=None, text=yaml_text)

    def import_yaml(self, actor: Actor, yaml_text: str) -> VersionRecord:
        profile = model.from_yaml(yaml_text)
        # A new version of an existing profile (GitOps) is a `version`, whatever it came through.
        exists = self.store.latest_version(profile.name) is not None
        self._authorise(actor, "version" if exists else "create", profile.ref)
        return self._save(actor, profile, kind="import", source=None, text=yaml_text)

    def may_version(self, actor: Actor, name: str, version: str) -> None:
        """Before a version form opens: refused now rather than after it is filled in."""
        new = model.normalize_version(version)
        self._authorise(actor, "version", f"{name}@{new}")
        if any(r.version == new for r in self.store.list_versions(name)):
            latest = self.store.latest_version(name) or new
            major, minor, _ = model.version_key(latest)
            following = f"{major}.{minor + 1}.0"
            raise Conflict(
                f"{name} {new} already exists; versions never change",
                f"type `/appprofile version {name} {following}`",
            )

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
        self._refuse_existing(new_name, field="new_name", what="clone")
        data = model.to_data(src.profile())
        data["name"] = new_name
        data["version"] = version
        profile = model.from_data(data)
        return self._save(actor, profile, kind="clone", source=f"{src.name}@{src.version}")

    # -- deleting --------------------------------------------------------------------------

    def _live(self, name: str) -> list[Deployment]:
        return [d for d in self.store.find_deployments(name) if d.status != "deleted"]

    def _deployment_on(self, name: str, cluster: str | None, command: str) -> Deployment:
        """The live deployment `name` (on `cluster`); several and no cluster named → refused."""
        live = self._live(name)
        if cluster is not None:
            found = [d for d in live if d.cluster == cluster]
            if not found:
                where = ", ".join(d.cluster for d in live) or "no cluster"
                raise NotFound(
                    f"there is no deployment `{name}` on {cluster} (it is on {where})",
                    "see `/appprofile deployments`",
                )
            return found[0]
        if not live:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        if len(live) > 1:
            raise _several(name, live, command)
        return live[0]

    def delete_targets(
        self, actor: Actor, name: str, version: str | None, cluster: str | None, *, purge: bool = False
    ) -> list[DeleteTarget]:
        """What `delete` names: one target to confirm, or several to choose between."""
        if version is not None:
            rec = self.store.get_version(name, _norm(version))
            return [DeleteTarget(kind="version", name=name, version=rec.version)]
        if cluster is not None:
            dep = self._deployment_on(name, cluster, "delete")
            return [DeleteTarget(kind="deployment", name=name, cluster=dep.cluster, purge=purge)]
        live = self._live(name)
        is_profile = self.store.latest_version(name) is not None
        if not is_profile and len(live) > 1:
            raise _several(name, live, "delete")
        targets = [DeleteTarget(kind="deployment", name=name, cluster=d.cluster, purge=purge) for d in live]
        if is_profile or not live:
            self.store.get_version(name)  # neither a profile nor a deployment: NotFound
            targets.append(DeleteTarget(kind="profile", name=name))
        return targets

    def describe_delete(self, actor: Actor, target: DeleteTarget) -> str:
        """What deleting `target` would do, said before the person confirms it."""
        if target.kind == "deployment":
            return self._describe_teardown(self._deployment_on(target.name, target.cluster, "delete"), target)
        if target.kind == "version":
            rec = self.store.get_version(target.name, target.version)
            return f"This deletes version `{rec.version}` of profile *{target.name}*. It cannot be undone."
        self._refuse_profile_in_use(target.name)
        count = len(self.versions(actor, target.name))
        return (
            f"This deletes profile *{target.name}* and all {_count(count, 'version')}. It cannot be undone."
        )

    def profile_versions(self, name: str) -> int:
        return len(self.store.list_versions(name))

    def _describe_teardown(self, dep: Deployment, target: DeleteTarget) -> str:
        kept = (
            "persistent volumes and generated passwords are deleted too"
            if target.purge
            else "persistent volumes and generated passwords are kept (add --purge to delete them)"
        )
        gate = self.config.clusters.get(dep.cluster)
        approval = " It needs approval on this cluster." if gate and gate.approval else ""
        return (
            f"This tears down deployment *{dep.name}* on `{dep.cluster}` ({dep.profile}@{dep.version}, "
            f"{_count(len(dep.inventory), 'object')}); {kept}.{approval}"
        )

    def _refuse_profile_in_use(self, name: str) -> None:
        """A profile with live deployments stays; the refusal says how to delete them first."""
        using = [d for d in self.store.list_deployments() if d.profile == name and d.status != "deleted"]
        if not using:
            return
        listing = ", ".join(f"{d.name} on {d.cluster}" for d in using)
        commands = " then ".join(f"`/appprofile delete {d.name} from {d.cluster}`" for d in using)
        raise Conflict(
            f"profile `{name}` cannot be deleted: it is still deployed ({listing})",
            f"delete those deployments first: {commands}",
        )

    def delete(
        self,
        actor: Actor,
        name: str,
        version: str | None,
        *,
        purge: bool = False,
        cluster: str | None = None,
    ) -> str:
        """Delete without asking which (the CLI and tests): a live deployment wins over the profile,
        which could not be deleted while it is deployed anyway."""
        targets = self.delete_targets(actor, name, version, cluster, purge=purge)
        live = [t for t in targets if t.kind == "deployment"]
        if len(live) > 1:
            raise _several(name, self._live(name), "delete")
        return self.delete_target(actor, live[0] if live else targets[0])

    def delete_target(self, actor: Actor, target: DeleteTarget) -> str:
        """Carry out a confirmed delete; everything is re-checked here, nothing trusted from the click."""
        label = f"{target.name}@{target.version}" if target.version else target.name
        self._authorise(actor, "delete", f"{label} on {target.cluster}" if target.cluster else label)
        if target.kind == "deployment":
            return self.delete_deployment(actor, target.name, target.cluster, purge=target.purge)
        if target.kind == "version":
            version = _norm(target.version) or ""
            self.store.delete_version(target.name, version, actor=actor.user, channel=actor.channel)
            return f"Deleted {target.name} {version}."
        self._refuse_profile_in_use(target.name)
        self.store.delete_profile(target.name, actor=actor.user, channel=actor.channel)
        return f"Deleted profile {target.name} and all its versions."

    def delete_deployment(self, actor: Actor, name: str, cluster: str | None, *, purge: bool = False) -> str:
        if self.executor is None:
            raise UserError("deployments cannot be deleted: this bot has no cluster configured")
        dep = self._deployment_on(name, cluster, "delete")
        # Tearing down is a change to the cluster like a deploy: same channel rule, same approval.
        try:
            policy.check_channel(self.config, dep.cluster, actor.channel)
        except UserError:
            self.store.audit(actor.user, actor.channel, "delete", dep.ref, "denied")
            raise
        rule = self.config.cluster(dep.cluster).approval
        if rule is None:
            run_id = self._request_teardown(actor, dep, purge=purge)
            return f"Deleting deployment {name} on {dep.cluster} (run #{run_id}); progress is in the channel."
        older = self.store.pending_approval_run(dep.cluster, dep.name)
        run_id = self._request_teardown(actor, dep, purge=purge, expires_in=float(rule.expires_after))
        self._supersede(actor, older, run_id)
        self._card(run_id)
        return f"Deleting {name} on {dep.cluster} needs approval: the card is in the channel (run #{run_id})."

    def _request_teardown(
        self, actor: Actor, dep: Deployment, *, purge: bool, expires_in: float | None = None
    ) -> int:
        """The executor's teardown request for this very deployment (on its own cluster)."""
        if self.executor is None:
            raise UserError("deployments cannot be deleted: this bot has no cluster configured")
        return self.executor.request_delete(
            actor.user,
            actor.channel,
            dep.name,
            cluster=dep.cluster,
            purge=purge,
            awaiting_approval=expires_in is not None,
            expires_in=expires_in,
        )

    def _card(self, run_id: int) -> None:
        """Post or redraw the run's approval card."""
        if self.publisher is not None:
            self.publisher.publish(ApprovalChanged, run_id)

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
        self._card(older.id)

    # -- deploying -------------------------------------------------------------------------

    def preview(self, actor: Actor, req: DeployRequest) -> tuple[VersionRecord, plan.Plan]:
        name = self._name_or_current(actor, req.profile)
        rec = self.store.get_version(name, _norm(req.version))
        self.config.cluster(req.cluster)
        self._refuse_secret_sets(rec.profile(), req.sets)
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
            guard=self.guards(req.cluster) if self.guards is not None else None,
        )
        return rec, p

    def _refuse_secret_sets(self, profile: model.Profile, sets: dict[str, str]) -> None:
        """`--set tier.password=…` would put a secret in the run's options and the audit trail:
        a secret parameter's value belongs in the profile. The value is never repeated."""
        types = {t.name: t.type for t in profile.tiers}
        for key in sets:
            tier, _, param = key.partition(".")
            svc = self.catalog.services.get(types.get(tier, ""))
            if svc is not None and any(p.name == param and p.secret for p in svc.params):
                raise UserError(
                    f"`--set {tier}.{param}` is refused: `{param}` is a secret parameter of tier "
                    f"`{tier}` ({svc.type}), and --set values are not kept secret",
                    f"put the value in the profile instead (`/appprofile version {profile.name}`), "
                    "or leave it out to have one generated at the first deploy",
                )

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
            self._card(ticket.run_id)
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
            _check_decision_channel(self.config, run, actor.channel)
            approvals.check_decision(
                cc.approval,
                run,
                user=actor.user,
                groups=self.groups_of(actor.user),
                card_fingerprint=card_fingerprint,
                now_iso=self.clock.timestamp(),
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
        self._card(run.id)
        return reply

    def expire_due(self) -> list[int]:
        """Expire pending approvals whose time is up; rewrite their cards. Survives restarts:
        the deadline is in the store, and this runs at start-up and then periodically."""
        now = self.clock.timestamp()
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
                self._card(run.id)
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
        return [self._view(d) for d in self.store.list_deployments() if d.status != "deleted"]

    def _view(self, dep: Deployment) -> DeploymentView:
        run = self.store.latest_run(dep.cluster, dep.name)
        failed = run if run is not None and run.status == "failed" and run.kind != "delete" else None
        update = self.update_available(dep)
        if failed is not None and update == failed.version:
            update = None  # just failed here: offer Retry, not Upgrade
        return DeploymentView(deployment=dep, run=run, update=update, failed_attempt=failed)

    def status(self, actor: Actor, name: str | None, cluster: str | None = None) -> list[DeploymentView]:
        if name is None:
            return self.deployments(actor)
        if cluster is not None:
            return [self._view(self._deployment_on(name, cluster, "status"))]
        deps = self.store.find_deployments(name)
        if not deps:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        live = [d for d in deps if d.status != "deleted"]
        return [self._view(d) for d in (live or deps)]

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

    def outputs(self, actor: Actor, name: str, cluster: str | None = None) -> Deployment:
        """The deployment whose outputs to show (they are stored masked)."""
        return self._deployment_on(name, cluster, "outputs")

    def audit(self, actor: Actor, limit: int, profile: str | None, cluster: str | None) -> list[AuditEntry]:
        return self.store.list_audit(limit=limit, profile=profile, cluster=cluster)


def _norm(version: str | None) -> str | None:
    return model.normalize_version(version) if version else None


def _check_decision_channel(config: policy.Config, run: Run, channel: str) -> None:
    """An approval counts only from a channel the cluster's `channels` rule allows."""
    cc = config.cluster(run.cluster)
    if cc.channels and channel not in cc.channels:
        listing = ", ".join(f"<#{c}>" for c in cc.channels)
        raise Forbidden(
            f"approvals for `{run.cluster}` do not count from this channel: the cluster's `channels` "
            f"rule allows only {listing}",
            f"click Approve or Reject on the card in {listing} (or change `clusters.{run.cluster}.channels`)",
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _several(name: str, live: list[Deployment], command: str) -> UserError:
    """`NAME` is deployed on several clusters and none was named: list them, say what to type."""
    where = ", ".join(d.cluster for d in live)
    verb = "from" if command == "delete" else "on"
    return UserError(
        f"`{name}` is deployed on {len(live)} clusters ({where}); say which one",
        f"e.g. `/appprofile {command} {name} {verb} {live[0].cluster}`",
    )


# What each command does, next to its usage from the parser: HELP and the usage hints never differ.
_DOES: dict[str, str] = {
    "help": "this list",
    "list": "the profiles",
    "show": "one version: YAML, secrets masked",
    "versions": "the version history",
    "services": "tier types, their parameters and outputs",
    "use": "make NAME this channel's current profile",
    "create": "a new profile from YAML (in a code block) or a form; it becomes the channel's current profile",
    "version": "a new version of NAME, edited in a form prefilled with the source YAML",
    "clone": "a copy under a new name; `clone v2` starts from the channel's current profile",
    "diff": "unified diff between two versions",
    "export": "the YAML, for GitOps",
    "delete": "a profile version, a profile, or the deployment on CLUSTER (volumes kept unless --purge)",
    "deploy": "plan, approval where needed, then tier by tier; no profile: the channel's current one",
    "status": "live state, on every cluster NAME is deployed to unless one is named",
    "deployments": "everything deployed, with updates available",
    "outputs": "a deployment's outputs, secrets masked",
    "audit": "who did what, where, when, with what result",
}

HELP = "\n".join(
    [
        "*App Profiles* — versioned stacks of service tiers, deployed from this channel.",
        *(f"• `{usage}` — {_DOES[sub]}" for sub, usage in USAGE.items()),
        "Versions: `v2`, `2` and `2.0` all mean 2.0.0. A command without what it needs opens a form "
        "or says what to type.",
    ]
)
