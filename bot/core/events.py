"""What happens to a run, as immutable events for whoever shows it (the Slack reporter, a log).

Each event carries a `RunView`: everything needed to draw the run at that moment (the run as
stored, the deployment's masked outputs, its place in the queue, the approvals so far), so a
reporter renders events and never reads the store or calls back into the use cases. Data flows
one way: use cases and the run loop → events → reporter. The one answer that flows back is
`Posted`: where a new message went, which the publisher stores so later events edit it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.drift import DriftReport
from bot.core.records import Run


class RunView(BaseModel):
    model_config = ConfigDict(frozen=True)

    run: Run
    # The deployment's outputs, already masked (secret outputs as MASK), once it is ready.
    outputs: dict[str, dict[str, str]] = Field(default_factory=dict)
    last_good_version: str | None = None
    queue_position: int = 0
    approved_by: list[str] = Field(default_factory=list)
    required: int = 1
    now: float = 0.0  # seconds since the epoch, by the app's clock (elapsed times are drawn from it)
    now_iso: str = ""


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    view: RunView

    @property
    def run_id(self) -> int:
        return self.view.run.id


class RunQueued(_Event):
    """Requested and in its deployment's queue (or moved up in it)."""

    kind: Literal["queued"] = "queued"


class RunStarted(_Event):
    kind: Literal["started"] = "started"


class TierApplying(_Event):
    kind: Literal["tier_applying"] = "tier_applying"
    tier: str


class TierWaiting(_Event):
    """A tier's objects are applied; it waits for them to be ready. `reason` says on what
    ("0/1 ready — api-7d9f…: ImagePullBackOff: …"), and changes as the pods do."""

    kind: Literal["tier_waiting"] = "tier_waiting"
    tier: str
    reason: str = ""


class TierReady(_Event):
    kind: Literal["tier_ready"] = "tier_ready"
    tier: str
    outputs: dict[str, str] = Field(default_factory=dict)  # masked


class TierFailed(_Event):
    kind: Literal["tier_failed"] = "tier_failed"
    tier: str
    message: str


class RunFinished(_Event):
    """Succeeded, failed or ended otherwise; `detail` is the failure's full text (secrets scrubbed)."""

    kind: Literal["finished"] = "finished"
    detail: str = ""


class ApprovalChanged(_Event):
    """The run's approval card must be posted, or redrawn (a decision, a terminal state)."""

    kind: Literal["approval"] = "approval"


Event = (
    RunQueued
    | RunStarted
    | TierApplying
    | TierWaiting
    | TierReady
    | TierFailed
    | RunFinished
    | ApprovalChanged
)


class DriftFound(BaseModel):
    """A scheduled drift check found drift not announced yet: said once in the deployment's
    channel, with a Revert button to `version` (what the deployment runs). Not about a run."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["drift"] = "drift"
    report: DriftReport
    channel: str
    version: str


# Everything a reporter shows: what happens to runs, and notices about deployments.
Shown = Event | DriftFound


class Posted(BaseModel):
    """Where a reporter posted a new message: the run's progress message or its approval card."""

    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str
