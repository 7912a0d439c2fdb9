"""What people look up: deployments and their state, outputs, the audit log, service types, runs,
and the help text."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from bot.core import model
from bot.core.catalog import ServiceType
from bot.core.commands import USAGE
from bot.core.drift import DriftReport
from bot.core.errors import NotFound
from bot.core.records import Actor, AuditEntry, Deployment, Run
from bot.usecases.context import UseCaseContext
from bot.usecases.drifts import Drifts
from bot.usecases.lookup import deployment_on


class DeploymentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    run: Run | None = None
    # A newer version of the profile to upgrade to; never one whose last attempt here just failed.
    update: str | None = None
    # The latest run when it failed: what was tried, where it stopped; `Retry` re-runs it.
    failed_attempt: Run | None = None
    # `status` only: the live objects compared with what was applied (None: not asked).
    drift: DriftReport | None = None
    drift_skipped: str = ""  # why there is no drift report (cluster unreachable, a run going on)


@dataclass(frozen=True)
class Queries:
    ctx: UseCaseContext
    drifts: Drifts | None = None

    def help_text(self) -> str:
        return HELP

    def run(self, run_id: int) -> Run:
        """A run as stored (its plan: what it applies), for the "View plan" button."""
        return self.ctx.store.get_run(run_id)

    def service_types(self) -> list[ServiceType]:
        return list(self.ctx.catalog.services.values())

    def service_type(self, name: str) -> ServiceType:
        return self.ctx.catalog.get(name)

    def deployments(self, actor: Actor) -> list[DeploymentView]:
        """Every live deployment with its newest run and update: three queries, whatever the count."""
        store = self.ctx.store
        runs, latest = store.latest_runs(), store.latest_versions()
        return [
            self._view(d, runs.get((d.cluster, d.name)), latest.get(d.profile))
            for d in store.list_deployments()
            if d.status != "deleted"
        ]

    def status(self, actor: Actor, name: str | None, cluster: str | None = None) -> list[DeploymentView]:
        if name is None:
            return self.deployments(actor)
        if cluster is not None:
            return [self._drifted(self._view(deployment_on(self.ctx, name, cluster, "status")))]
        deps = self.ctx.store.find_deployments(name)
        if not deps:
            raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
        live = [d for d in deps if d.status != "deleted"]
        return [self._drifted(self._view(d)) for d in (live or deps)]

    def _drifted(self, view: DeploymentView) -> DeploymentView:
        if self.drifts is None or view.deployment.status == "deleted":
            return view
        checked = self.drifts.check(view.deployment)
        return view.model_copy(update={"drift": checked.report, "drift_skipped": checked.skipped})

    def _view(self, dep: Deployment, run: Run | None = None, latest: str | None = None) -> DeploymentView:
        """One deployment as lists show it; `run` and `latest` as already read, else read here."""
        if run is None:
            run = self.ctx.store.latest_run(dep.cluster, dep.name)
        failed = run if run is not None and run.status == "failed" and run.kind != "delete" else None
        update = self.update_available(dep, latest)
        if failed is not None and update == failed.version:
            update = None  # just failed here: offer Retry, not Upgrade
        return DeploymentView(deployment=dep, run=run, update=update, failed_attempt=failed)

    def update_available(self, dep: Deployment, latest: str | None = None) -> str | None:
        """The profile's newest version when it is newer than what the deployment runs."""
        if dep.status == "deleted":
            return None
        latest = latest or self.ctx.store.latest_version(dep.profile)
        if latest and model.version_key(latest) > model.version_key(dep.version):
            return latest
        return None

    def outputs(self, actor: Actor, name: str, cluster: str | None = None) -> Deployment:
        """The deployment whose outputs to show (they are stored masked)."""
        return deployment_on(self.ctx, name, cluster, "outputs")

    def audit(
        self, actor: Actor, limit: int, profile: str | None, cluster: str | None, *, offset: int = 0
    ) -> list[AuditEntry]:
        return self.ctx.store.list_audit(limit=limit, profile=profile, cluster=cluster, offset=offset)


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
    "promote": "deploy the version and --set values that succeeded on CLUSTER_A to CLUSTER_B, "
    "through its guardrails and approval",
    "status": "live state and drift from what was applied (Revert button), on every cluster NAME "
    "is deployed to unless one is named",
    "deployments": "everything deployed, with updates available",
    "outputs": "a deployment's outputs, secrets masked",
    "logs": "the last N lines (50, at most 500) of a tier's pods, into the run's thread; secrets scrubbed; "
    "for people who may deploy there",
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
