"""Runs (one deploy, rollback or delete of a deployment) and the approvals given on them.

The executor persists a run before and after each step, so a restarted bot finds what was
running and resumes it; one run at a time per (cluster, deployment), later ones queue.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlite_utils import Database

from bot.core.errors import Conflict, NotFound
from bot.core.records import Approval, Decision, Run, RunKind, RunStatus, TierState
from bot.store import transaction

_JSON = ("plan", "tiers", "options")
_COLUMNS = (
    "id, deployment_id, cluster, deployment, profile, version, kind, status, requested_by, channel,"
    " message_ts, thread_ts, fingerprint, plan, tiers, next_tier, error, options, created_at, updated_at,"
    " expires_at, approval_ts"
)


def _record(row: dict[str, Any]) -> Run:
    return Run.model_validate({**row, **{k: json.loads(row[k]) for k in _JSON}})


def _select(db: Database, where: str, params: Sequence[Any], order: str = "id") -> list[Run]:
    rows = db.table("runs").rows_where(where, list(params), order_by=order, select=_COLUMNS)
    return [_record(r) for r in rows]


def create(
    db: Database,
    *,
    at: str,
    cluster: str,
    deployment: str,
    profile: str,
    version: str,
    kind: RunKind,
    requested_by: str,
    channel: str,
    fingerprint: str,
    plan: dict[str, Any],
    tiers: Sequence[TierState],
    options: dict[str, Any],
    status: RunStatus,
    deployment_id: int | None,
    message_ts: str | None,
    thread_ts: str | None,
    expires_at: str | None,
) -> Run:
    if status not in ("queued", "awaiting_approval"):
        raise ValueError(f"a run starts queued or awaiting_approval, not {status}")
    draft = Run(
        id=0,
        deployment_id=deployment_id,
        cluster=cluster,
        deployment=deployment,
        profile=profile,
        version=version,
        kind=kind,
        status=status,
        requested_by=requested_by,
        channel=channel,
        message_ts=message_ts,
        thread_ts=thread_ts,
        fingerprint=fingerprint,
        plan=plan,
        tiers=list(tiers),
        options=options,
        created_at=at,
        updated_at=at,
        expires_at=expires_at,
    )
    values = draft.model_dump(mode="json", exclude={"id"})
    row = {k: json.dumps(v) if k in _JSON else v for k, v in values.items()}
    with transaction.immediate(db):
        run_id = db.table("runs").insert(row).last_pk
    if not isinstance(run_id, int):
        raise RuntimeError(f"SQLite reported {run_id!r} as the new run's id")
    return draft.model_copy(update={"id": run_id})


def get(db: Database, run_id: int) -> Run:
    found = _select(db, "id = ?", [run_id])
    if not found:
        raise NotFound(
            f"run {run_id} does not exist", hint="it may have been removed; start the deploy again"
        )
    return found[0]


def update(
    db: Database,
    run_id: int,
    *,
    at: str,
    fields: dict[str, Any],
    only_if_status: Collection[str] | None = None,
) -> Run:
    if "id" in fields:
        raise ValueError("a run's id never changes")
    with transaction.immediate(db):
        current = get(db, run_id)
        if only_if_status is not None and current.status not in only_if_status:
            raise Conflict(
                f"run {run_id} is already {current.status.replace('_', ' ')}",
                hint="nothing was changed; the card shows its latest state",
            )
        # Validate the whole record: tiers become TierState, bad statuses are refused.
        updated = Run.model_validate({**current.model_dump(), **fields, "updated_at": at})
        values = updated.model_dump(mode="json")
        changed = {k: json.dumps(values[k]) if k in _JSON else values[k] for k in [*fields, "updated_at"]}
        db.table("runs").update(run_id, changed)
    return updated


def with_status(db: Database, statuses: Sequence[str]) -> list[Run]:
    if not statuses:
        return []
    return _select(db, f"status IN ({', '.join('?' for _ in statuses)})", statuses)


def claim_next(db: Database, cluster: str, deployment: str, *, at: str) -> Run | None:
    """Move the oldest queued run of this deployment to running, unless one is running already."""
    with transaction.immediate(db):
        busy = db.execute(
            "SELECT 1 FROM runs WHERE cluster = ? AND deployment = ? AND status = 'running' LIMIT 1",
            [cluster, deployment],
        ).fetchone()
        if busy is not None:
            return None
        queued = _select(db, "cluster = ? AND deployment = ? AND status = 'queued'", [cluster, deployment])
        if not queued:
            return None
        run = queued[0]
        db.execute("UPDATE runs SET status = 'running', updated_at = ? WHERE id = ?", [at, run.id])
    return run.model_copy(update={"status": "running", "updated_at": at})


def queue_position(db: Database, run_id: int) -> int:
    """How many runs of the same deployment go before this one: 0 = running or next.

    A run that is not queued (awaiting approval, running or finished) waits for nobody: 0.
    """
    run = get(db, run_id)
    if run.status != "queued":
        return 0
    row = db.execute(
        "SELECT COUNT(*) FROM runs WHERE cluster = ? AND deployment = ?"
        " AND (status = 'running' OR (status = 'queued' AND id < ?))",
        [run.cluster, run.deployment, run.id],
    ).fetchone()
    return int(row[0])


def running(db: Database, cluster: str, deployment: str) -> Run | None:
    found = _select(db, "cluster = ? AND deployment = ? AND status = 'running'", [cluster, deployment])
    return found[0] if found else None


def latest(db: Database, cluster: str, deployment: str) -> Run | None:
    found = _select(db, "cluster = ? AND deployment = ?", [cluster, deployment], order="id DESC")
    return found[0] if found else None


def pending_approval(db: Database, cluster: str, deployment: str) -> Run | None:
    found = _select(
        db,
        "cluster = ? AND deployment = ? AND status = 'awaiting_approval'",
        [cluster, deployment],
        order="id DESC",
    )
    return found[0] if found else None


def add_approval(
    db: Database, run_id: int, user: str, decision: Decision, fingerprint: str, *, at: str
) -> bool:
    """Record one person's decision; False (and nothing stored) if they already decided."""
    Approval(run_id=run_id, user=user, decision=decision, fingerprint=fingerprint, at=at)
    with transaction.immediate(db):
        get(db, run_id)
        cursor = db.execute(
            "INSERT INTO approvals (run_id, user, decision, fingerprint, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (run_id, user) DO NOTHING",
            [run_id, user, decision, fingerprint, at],
        )
        added: bool = cursor.rowcount == 1
    return added


def approvals(db: Database, run_id: int) -> list[Approval]:
    rows = db.query(
        "SELECT run_id, user, decision, fingerprint, at FROM approvals WHERE run_id = ? ORDER BY id", [run_id]
    )
    return [Approval.model_validate(r) for r in rows]
