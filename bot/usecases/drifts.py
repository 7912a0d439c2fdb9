"""Drift of deployments: checked on `status`, before a deploy overwrites it, and on a schedule
(`drift_check` per cluster), announced in the deployment's channel once per drift; the Revert
button re-applies the deployed version through the cluster's approval rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bot.core import drift, windows
from bot.core.commands import DeployRequest
from bot.core.drift import DriftReport
from bot.core.errors import DeployError, NotFound, UserError
from bot.core.events import DriftFound
from bot.core.records import Actor, Deployment
from bot.core.tickets import DeployTicket
from bot.usecases.context import UseCaseContext
from bot.usecases.deploys import Deploys, ask_again

# Checking a deployment mid-run would report the run's own half-applied changes as drift.
CHECKED_STATUSES = ("ready", "failed")


@dataclass(frozen=True)
class Checked:
    """A drift check's outcome: the report, or why there is none (cluster unreachable, a run in
    progress), said to people as is."""

    report: DriftReport | None = None
    skipped: str = ""


@dataclass(frozen=True)
class Drifts:
    ctx: UseCaseContext
    deploys: Deploys
    # When this replica last checked each cluster on schedule (`drift_check`), by the clock.
    checked_at: dict[str, float] = field(default_factory=dict)

    def sweep(self) -> int:
        """Check every cluster whose `drift_check` interval has passed; announce each drift not
        announced yet in its deployment's channel. Returns how many were announced."""
        now = self.ctx.clock.now()
        announced = 0
        for name, cc in self.ctx.config.clusters.items():
            due = cc.drift_check is not None and now - self.checked_at.get(name, -math.inf) >= cc.drift_check
            if due:
                self.checked_at[name] = now
                announced += sum(self._announce(dep) for dep in self.ctx.store.list_deployments(name))
        return announced

    def _announce(self, dep: Deployment) -> bool:
        publisher = self.ctx.publisher
        # Only what is deployed: a failed deployment's half-applied objects are its run's story.
        if publisher is None or dep.status != "ready":
            return False
        found = self.announce_due(dep, self.check(dep))
        if found is None:
            return False
        if not publisher.notice(DriftFound(report=found, channel=dep.channel, version=dep.version)):
            self.ctx.store.update_deployment(dep.id, drift_seen="")  # not shown: try again next time
            return False
        return True

    def check(self, dep: Deployment) -> Checked:
        if dep.status not in CHECKED_STATUSES:
            return Checked(skipped=f"not checked for drift while it is {dep.status}")
        executor = self.ctx.executor
        if executor is None:
            return Checked(skipped="not checked for drift: this bot reaches no cluster")
        try:
            kube = executor.connect(dep.cluster)
            store = self.ctx.store
            return Checked(
                report=drift.report(kube.read, dep, store.drift_key(), store.applied_fields(dep.id))
            )
        except DeployError as exc:
            return Checked(skipped=f"not checked for drift: {exc.message}")

    def revert(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        """The Revert button: the deployed version and its `--set` values applied again (which
        takes every hand edit back), through the same checks and approval as a deploy."""
        dep = self.ctx.store.get_deployment(cluster, name)
        if dep is None or dep.status == "deleted":
            raise NotFound(f"there is no deployment `{name}` on {cluster}", "see `/appprofile deployments`")
        if dep.status == "failed":
            raise UserError(
                f"`{name}` on {cluster} is failed: its last deploy did not finish, so there is no "
                "deployed version to revert to",
                "use Retry or Roll back on that run's message in the channel",
            )
        if dep.status != "ready":
            raise UserError(
                f"`{name}` on {cluster} is {dep.status}: a run is changing it already",
                f"wait for it to finish, then `/appprofile status {name} on {cluster}`",
            )
        run = self.ctx.store.latest_run(cluster, name)
        sets = dict(run.options.get("set", {})) if run is not None and run.version == dep.version else {}
        req = DeployRequest(profile=dep.profile, version=dep.version, cluster=cluster, name=name, sets=sets)
        try:
            return self.deploys.deploy(actor, req, options={"revert": True})
        except windows.WindowClosed as exc:
            raise ask_again(exc, req) from None  # a button cannot add --override-window

    def announce_due(self, dep: Deployment, checked: Checked) -> DriftReport | None:
        """The report to announce in the deployment's channel: only a drift not announced yet.
        Remembers what was announced (and forgets it once the drift is gone)."""
        found = checked.report
        if found is None:
            return None
        digest = found.digest()
        if digest == dep.drift_seen:
            return None
        self.ctx.store.update_deployment(dep.id, drift_seen=digest)
        return found if found.drifted else None
