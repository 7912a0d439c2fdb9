"""Approval rules (DESIGN §5): who may approve, what counts, when a request is decided.

Everything is decided from the store's records and the configuration, never from what a button
carried: the button only says which run the person looked at and which plan fingerprint its
card showed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.errors import Forbidden, UserError
from bot.core.policy import Approval as ApprovalPolicy
from bot.core.records import Approval, Run

Outcome = Literal["pending", "approved", "rejected"]


class Tally(BaseModel):
    model_config = ConfigDict(frozen=True)

    required: int
    approved_by: list[str]
    rejected_by: list[str]

    @property
    def outcome(self) -> Outcome:
        if self.rejected_by:
            return "rejected"
        return "approved" if len(self.approved_by) >= self.required else "pending"


def is_approver(rule: ApprovalPolicy, user: str, groups: Iterable[str]) -> bool:
    listed = set(rule.approvers)
    return user in listed or bool(listed.intersection(groups))


def check_decision(
    rule: ApprovalPolicy,
    run: Run,
    *,
    user: str,
    groups: Iterable[str],
    card_fingerprint: str,
    now_iso: str,
) -> None:
    """Raise a UserError saying why this click cannot count; return if it can."""
    if run.status != "awaiting_approval":
        state = run.status.replace("_", " ")
        raise UserError(
            f"this request is no longer waiting for approval (it is {state})", "nothing was changed"
        )
    if run.expires_at is not None and now_iso >= run.expires_at:
        raise UserError("this request has expired", "ask the requester to deploy again")
    if card_fingerprint != run.fingerprint:
        raise UserError(
            "this card shows a different plan than the one waiting for approval",
            "approve the newest card for this deployment",
        )
    if not is_approver(rule, user, groups):
        raise Forbidden(
            "you are not an approver for this cluster",
            "approvers are listed under approval.approvers in APPPROFILE_CONFIG",
        )
    if user == run.requested_by and not rule.self_approval:
        raise Forbidden("you requested this deploy, so your approval cannot count", "ask another approver")


def tally(rule: ApprovalPolicy, run: Run, approvals: Iterable[Approval], *, extra: int = 0) -> Tally:
    """Count distinct people's decisions on exactly this run's fingerprint. `extra` approvers are
    needed on top of the rule's (`windows.OVERRIDE_EXTRA` for a deploy that overrides a change
    window)."""
    if extra < 0:
        raise ValueError("extra approvers cannot be negative")
    approved: list[str] = []
    rejected: list[str] = []
    for a in approvals:
        if a.run_id != run.id or a.fingerprint != run.fingerprint:
            continue
        if a.user == run.requested_by and not rule.self_approval:
            continue
        bucket = approved if a.decision == "approve" else rejected
        if a.user not in approved and a.user not in rejected:
            bucket.append(a.user)
    return Tally(required=rule.required + extra, approved_by=approved, rejected_by=rejected)
