"""What the store hands back: frozen records of versions, deployments, runs, approvals and audit.

They are plain data so the use cases and the Slack views can depend on them without knowing
about SQLite. Timestamps are ISO 8601 UTC strings (`2024-05-01T12:00:00Z`), except a tier's
progress times, which are epoch seconds because the executor does arithmetic on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core import model
from bot.core.model import Profile

VersionKind = Literal["create", "version", "clone", "import"]
DeploymentStatus = Literal["pending", "deploying", "ready", "failed", "deleting", "deleted"]
RunKind = Literal["deploy", "rollback", "delete"]
RunStatus = Literal[
    "queued",
    "awaiting_approval",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "superseded",
    "rejected",
    "expired",
]
TierStatus = Literal["pending", "applying", "waiting", "ready", "failed", "deleted"]
Decision = Literal["approve", "reject"]
AuditAction = Literal[
    "create",
    "version",
    "clone",
    "import",
    "delete",
    "deploy",
    "approve",
    "reject",
    "expire",
    "rollback",
    "retry",
    "use",
    "promote",
    "logs",
]

# Runs in these states will still do something; every other state is final.
ACTIVE_RUN_STATUSES: tuple[RunStatus, ...] = ("queued", "awaiting_approval", "running")
FINAL_RUN_STATUSES: tuple[RunStatus, ...] = (
    "succeeded",
    "failed",
    "cancelled",
    "superseded",
    "rejected",
    "expired",
)


@dataclass(frozen=True)
class Actor:
    """Who acts, and where: a Slack user in a channel, or the CLI."""

    user: str
    channel: str
    user_name: str = ""


class _Record(BaseModel):
    # extra="forbid" so a misspelt field in update_run/update_deployment is an error, not lost.
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionRecord(_Record):
    name: str
    version: str
    yaml: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    created_by: str
    created_at: str
    kind: VersionKind
    source: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def profile(self) -> Profile:
        return model.from_yaml(self.yaml)


class ProfileSummary(_Record):
    name: str
    latest_version: str
    version_count: int
    description: str
    updated_at: str


class Deployment(_Record):
    id: int
    cluster: str
    name: str
    profile: str
    version: str
    status: DeploymentStatus
    last_good_version: str | None = None
    channel: str
    message_ts: str | None = None
    created_by: str
    updated_at: str
    # tier -> OUTPUT -> value; secret outputs arrive here already masked by the executor.
    outputs: dict[str, dict[str, str]] = Field(default_factory=dict)
    # The applied object refs: apiVersion, kind, name, namespace, tier (their field digests, for
    # drift checks, are kept apart: `Deployments.applied_fields`).
    inventory: list[dict[str, Any]] = Field(default_factory=list)
    # A digest of the drift last announced in `channel` ("" when none was): once per drift.
    drift_seen: str = ""

    @property
    def ref(self) -> str:
        return f"{self.cluster}/{self.name}"


class TierState(_Record):
    name: str
    state: TierStatus = "pending"
    started_at: float | None = None
    finished_at: float | None = None
    message: str = ""


class Run(_Record):
    id: int
    deployment_id: int | None = None
    cluster: str
    deployment: str
    profile: str
    version: str
    kind: RunKind
    status: RunStatus
    requested_by: str
    channel: str
    message_ts: str | None = None
    thread_ts: str | None = None
    fingerprint: str
    plan: dict[str, Any] = Field(default_factory=dict)
    tiers: list[TierState] = Field(default_factory=list)
    next_tier: int = 0
    error: str | None = None
    # `set`: the --set overrides ({"tier.key": "value"}); `purge`: delete PVCs too.
    options: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    updated_at: str
    expires_at: str | None = None
    approval_ts: str | None = None
    # Which bot process drives a running run, and until when (ISO text) unless it renews.
    lease_owner: str | None = None
    lease_expires_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class Approval(_Record):
    run_id: int
    user: str
    decision: Decision
    fingerprint: str
    at: str


class AuditEntry(_Record):
    id: int
    at: str
    actor: str
    channel: str
    action: AuditAction
    target: str
    result: str
    detail: str = ""
