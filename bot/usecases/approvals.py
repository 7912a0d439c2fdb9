"""Approvals of deploys and teardowns: decisions re-checked from the store, tallies, expiry, and
the approval card that shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core import approvals, policy, windows
from bot.core.errors import Conflict, UserError
from bot.core.events import ApprovalChanged
from bot.core.records import Actor, Decision, Run
from bot.usecases.access import check_decision_channel
from bot.usecases.context import UseCaseContext

if TYPE_CHECKING:
    from bot.runs.loop import Executor


def card(ctx: UseCaseContext, run_id: int) -> None:
    """Post or redraw the run's approval card."""
    if ctx.publisher is not None:
        ctx.publisher.publish(ApprovalChanged, run_id)


def extra_approvers(run: Run) -> int:
    """A request made inside a change window with `--override-window` needs one more approver
    than the cluster's rule (each person still counts once)."""
    return windows.OVERRIDE_EXTRA if run.options.get("override_window") else 0


@dataclass(frozen=True)
class Approvals:
    ctx: UseCaseContext

    def approval_tally(self, run: Run) -> tuple[list[str], int]:
        cc = self.ctx.config.clusters.get(run.cluster)
        if cc is None or cc.approval is None:
            return [], 1
        t = approvals.tally(cc.approval, run, self.ctx.store.approvals(run.id), extra=extra_approvers(run))
        return t.approved_by, t.required

    def decide(self, actor: Actor, run_id: int, decision: str, card_fingerprint: str) -> str:
        """Approve or reject a pending deploy; everything is re-checked from the store."""
        store, executor = self.ctx.store, self.ctx.executor
        run = store.get_run(run_id)
        cc = self.ctx.config.clusters.get(run.cluster)
        if cc is None or cc.approval is None or executor is None:
            raise UserError("this deploy does not need approval")
        action: Decision = "approve" if decision == "approve" else "reject"
        self._check(actor, run, cc.approval, action, card_fingerprint)
        if not store.add_approval(run.id, actor.user, action, run.fingerprint):
            return "You have already decided on this request; nothing changed."
        target = f"run #{run.id} {run.cluster}/{run.deployment}"
        store.audit(actor.user, actor.channel, action, target, "ok", run.fingerprint[:12])
        t = approvals.tally(cc.approval, run, store.approvals(run.id), extra=extra_approvers(run))
        reply = self._settle(run, action, t, executor)
        card(self.ctx, run.id)
        return reply

    def _check(
        self, actor: Actor, run: Run, rule: policy.Approval, action: Decision, card_fingerprint: str
    ) -> None:
        """Whether this decision counts: channel, approver, the card's plan; refusals audited."""
        try:
            check_decision_channel(self.ctx.config, run, actor.channel)
            approvals.check_decision(
                rule,
                run,
                user=actor.user,
                groups=self.ctx.groups_of(actor.user),
                card_fingerprint=card_fingerprint,
                now_iso=self.ctx.clock.timestamp(),
            )
        except UserError as exc:
            target = f"run #{run.id} {run.cluster}/{run.deployment}"
            self.ctx.store.audit(actor.user, actor.channel, action, target, "denied", exc.message)
            raise

    def _settle(self, run: Run, action: Decision, t: approvals.Tally, executor: Executor) -> str:
        """The request ended (rejected) or released (approved) by this decision; the reply."""
        reply = f"Recorded your {action}: {len(t.approved_by)} of {t.required} approvals."
        try:
            if t.outcome == "rejected":
                self.ctx.store.update_run(run.id, status="rejected", only_if_status=("awaiting_approval",))
                reply = "Rejected; the request has ended."
            elif t.outcome == "approved":
                self.ctx.store.update_run(run.id, status="queued", only_if_status=("awaiting_approval",))
                executor.kick(run.cluster, run.deployment)
                reply = "Approved; the deploy is starting."
        except Conflict:  # the store's only_if_status: a lost race
            reply = "This request was decided by someone else a moment ago."
        return reply

    def expire_due(self) -> list[int]:
        """Expire pending approvals whose time is up; rewrite their cards. Survives restarts:
        the deadline is in the store, and this runs at start-up and then periodically."""
        now = self.ctx.clock.timestamp()
        expired: list[int] = []
        for run in self.ctx.store.runs_with_status("awaiting_approval"):
            if run.expires_at is not None and run.expires_at <= now and self._expire(run):
                expired.append(run.id)
        return expired

    def _expire(self, run: Run) -> bool:
        try:
            self.ctx.store.update_run(run.id, status="expired", only_if_status=("awaiting_approval",))
        except Conflict:  # the store's only_if_status: a lost race
            return False
        target = f"run #{run.id} {run.cluster}/{run.deployment}"
        self.ctx.store.audit("appprofile", run.channel, "expire", target, "expired")
        if self.ctx.executor is not None:
            card(self.ctx, run.id)
        return True
