"""Each person's App Home: what it shows them, when it must be shown again, and its Upgrade button.

"Their deployments" are the live ones they created or ran one of their last runs on; "approvals
waiting on them" are the pending requests they could approve now and have not decided on (the
card's own rules, `bot.core.home.waits_on`); "their last runs" are the newest runs they asked
for. A refresh after an event builds every viewer's Home from one read of what they share (the
deployments, the pending requests and their decisions) and hands on only those whose digest
changed. Queries left per item: one `latest_version` per deployment shown (cached per refresh)
and one `latest_run` per failed deployment shown; one `runs_requested_by` per viewer.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from bot.core import approvals, ports
from bot.core.events import ApprovalChanged, Event, RunFinished, RunQueued, RunStarted, TierFailed
from bot.core.home import HomeApproval, HomeDeployment, HomeRun, HomeView, waits_on
from bot.core.records import Actor, Approval, Deployment, Run
from bot.usecases.approvals import extra_approvers
from bot.usecases.context import UseCaseContext
from bot.usecases.queries import Queries

LAST_RUNS = 10
# What a Home shows changes with these events; per-tier progress lines change nothing on it.
REFRESHING = (RunQueued, RunStarted, TierFailed, RunFinished, ApprovalChanged)
# Views built later carry a higher number (taken before the store is read), in this process.
_built = itertools.count(1)


@dataclass(frozen=True)
class Home:
    ctx: UseCaseContext

    def view(self, user: str) -> HomeView:
        """`user`'s Home as the store has it now (numbered before it is read: see `HomeView.seq`)."""
        seq = next(_built)
        return _Snapshot(self.ctx).view_of(user, seq)

    def opened(self, user: str) -> HomeView:
        """`user` opened their Home tab: remembered as a viewer, and the view to publish now
        (whatever was published before: the Home tab may show an older one)."""
        self.ctx.store.home_opened(user)
        view = self.view(user)
        self.ctx.store.home_changed(user, view.digest())
        return view

    def clicked(self, user: str) -> HomeView | None:
        """After a click on `user`'s Home: their view if it changed since last published."""
        self.ctx.store.home_opened(user)
        view = self.view(user)
        return view if self.ctx.store.home_changed(user, view.digest()) else None

    def refresh(self, event: Event) -> list[HomeView]:
        """The Homes `event` changed, one per viewer whose view differs from what they have."""
        if not isinstance(event, REFRESHING):
            return []
        viewers = self.ctx.store.home_viewers()
        if not viewers:
            return []
        seq = next(_built)
        snapshot = _Snapshot(self.ctx)
        changed = []
        for user in viewers:
            view = snapshot.view_of(user, seq)
            if self.ctx.store.home_changed(user, view.digest()):
                changed.append(view)
        return changed

    def show_changes(self, event: Event, screen: ports.HomeScreen) -> None:
        """What the publisher runs after each event: the changed Homes onto the screen."""
        for view in self.refresh(event):
            screen.show(view)

    def upgrade_actor(self, actor: Actor, cluster: str, name: str) -> Actor:
        """An Upgrade clicked on the Home (no channel): it runs as if asked in the deployment's own
        channel, where its progress and card go, when the cluster takes changes from any channel.
        Otherwise the actor is left as is, and the cluster's `channels` rule refuses it."""
        cc = self.ctx.config.clusters.get(cluster)
        dep = self.ctx.store.get_deployment(cluster, name)
        if cc is None or cc.channels or dep is None or not dep.channel:
            return actor
        return dataclasses.replace(actor, channel=dep.channel)


class _Snapshot:
    """What every Home built at one moment is drawn from, read from the store once."""

    def __init__(self, ctx: UseCaseContext) -> None:
        self.ctx = ctx
        self.now_iso = ctx.clock.timestamp()
        self.deployments = [d for d in ctx.store.list_deployments() if d.status != "deleted"]
        self.pending = [
            (r, ctx.store.approvals(r.id)) for r in ctx.store.runs_with_status("awaiting_approval")
        ]
        self.queries = Queries(ctx)
        self._lines: dict[int, HomeDeployment] = {}

    def view_of(self, user: str, seq: int) -> HomeView:
        runs = self.ctx.store.runs_requested_by(user, limit=LAST_RUNS)
        ran = {(r.cluster, r.deployment) for r in runs}
        deps = [d for d in self.deployments if d.created_by == user or (d.cluster, d.name) in ran]
        groups = self.ctx.groups_of(user)
        waiting = [
            self._approval(run, decisions)
            for run, decisions in self.pending
            if self._waits_on(run, decisions, user, groups)
        ]
        return HomeView(
            user=user,
            deployments=sorted((self._deployment(d) for d in deps), key=lambda d: (d.cluster, d.name)),
            approvals=waiting,
            runs=[_run(r) for r in runs],
            seq=seq,
        )

    def _waits_on(self, run: Run, decisions: list[Approval], user: str, groups: set[str]) -> bool:
        cc = self.ctx.config.clusters.get(run.cluster)
        if cc is None or cc.approval is None:
            return False
        return waits_on(cc.approval, run, decisions, user=user, groups=groups, now_iso=self.now_iso)

    def _approval(self, run: Run, decisions: list[Approval]) -> HomeApproval:
        cc = self.ctx.config.clusters[run.cluster]
        assert cc.approval is not None  # only runs `_waits_on` kept
        tally = approvals.tally(cc.approval, run, decisions, extra=extra_approvers(run))
        return HomeApproval(
            run=run.id,
            fingerprint=run.fingerprint,
            kind=run.kind,
            cluster=run.cluster,
            deployment=run.deployment,
            profile=run.profile,
            version=run.version,
            requested_by=run.requested_by,
            approved_by=tally.approved_by,
            required=tally.required,
            expires_at=run.expires_at,
            channel=run.channel,
            card_ts=run.approval_ts,
            buttons=not cc.channels,
        )

    def _deployment(self, dep: Deployment) -> HomeDeployment:
        """The deployment as its Home line shows it; the same for every viewer of this snapshot."""
        if dep.id not in self._lines:
            self._lines[dep.id] = self._line(dep)
        return self._lines[dep.id]

    def _line(self, dep: Deployment) -> HomeDeployment:
        update = self.queries.update_available(dep)
        failed = self.ctx.store.latest_run(dep.cluster, dep.name) if dep.status == "failed" else None
        if failed is not None and (failed.status != "failed" or failed.kind == "delete"):
            failed = None
        if failed is not None and update == failed.version:
            update = None  # just failed here: the run's message offers Retry, not an Upgrade
        cc = self.ctx.config.clusters.get(dep.cluster)
        return HomeDeployment(
            cluster=dep.cluster,
            name=dep.name,
            profile=dep.profile,
            version=dep.version,
            status=dep.status,
            channel=dep.channel,
            update=update,
            upgrade_here=cc is not None and not cc.channels,
            failed_run=failed.id if failed is not None else None,
        )


def _run(run: Run) -> HomeRun:
    return HomeRun(
        run=run.id,
        kind=run.kind,
        status=run.status,
        cluster=run.cluster,
        deployment=run.deployment,
        version=run.version,
        channel=run.channel,
        when=run.created_at,
    )
