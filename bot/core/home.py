"""One person's App Home as data: their deployments, the approvals waiting on them, their last runs.

The Slack side draws the Home tab from a `HomeView` alone (`bot.slack.home_view`), so it never
reads the store. A view is published again only when its `digest()` changed: the digest covers
everything drawn and nothing relative to the moment it was built (no "3 minutes ago"; times are
the records' own ISO stamps), so an unchanged Home is never republished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from bot.core.approvals import check_decision
from bot.core.errors import UserError
from bot.core.policy import Approval as ApprovalRule
from bot.core.records import Approval, DeploymentStatus, Run, RunKind, RunStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HomeDeployment(_Frozen):
    cluster: str
    name: str
    profile: str
    version: str
    status: DeploymentStatus
    channel: str  # where it was deployed from: its progress messages and cards live there
    # A newer version of the profile to upgrade to (never one whose last attempt here just failed).
    update: str | None = None
    # False when the cluster's `channels` rule allows changes only from there: no Upgrade button.
    upgrade_here: bool = True
    failed_run: int | None = None  # its latest run, when that failed


class HomeApproval(_Frozen):
    run: int
    fingerprint: str  # the plan the Approve button binds to, as on the card
    kind: RunKind
    cluster: str
    deployment: str
    profile: str
    version: str
    requested_by: str
    approved_by: list[str] = Field(default_factory=list)
    required: int = 1
    expires_at: str | None = None
    channel: str = ""  # where the card is
    card_ts: str | None = None
    # False when the cluster's `channels` rule counts approvals only from there: a link instead.
    buttons: bool = True


class HomeRun(_Frozen):
    run: int
    kind: RunKind
    status: RunStatus
    cluster: str
    deployment: str
    version: str
    channel: str
    when: str  # requested at (ISO 8601 UTC)


class HomeView(_Frozen):
    user: str
    deployments: list[HomeDeployment] = Field(default_factory=list)
    approvals: list[HomeApproval] = Field(default_factory=list)
    runs: list[HomeRun] = Field(default_factory=list)
    # Which of two views of the same person was built later (from the store as it was then): a
    # screen never shows an older one after a newer one. Not drawn, not in the digest.
    seq: int = 0

    def digest(self) -> str:
        """sha256 over what is drawn, canonically: equal views have equal digests."""
        data = self.model_dump(mode="json", exclude={"seq"})
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def waits_on(
    rule: ApprovalRule,
    run: Run,
    decisions: Iterable[Approval],
    *,
    user: str,
    groups: Iterable[str],
    now_iso: str,
) -> bool:
    """Whether `user` could approve `run` now and has not decided on it yet: the rules the
    approval card's buttons are checked against (approver, self-approval, expiry, the plan)."""
    if any(a.run_id == run.id and a.user == user for a in decisions):
        return False
    try:
        check_decision(rule, run, user=user, groups=groups, card_fingerprint=run.fingerprint, now_iso=now_iso)
    except UserError:
        return False
    return True
