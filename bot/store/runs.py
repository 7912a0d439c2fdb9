"""Runs (one deploy, rollback or delete of a deployment) and the approvals given on them.

The executor persists a run before and after each step, so a restarted bot finds what was
running and resumes it; one run at a time per (cluster, deployment), later ones queue.
A running run is leased to the process driving it (`lease_owner` until `lease_expires_at`);
a lease that runs out lets another replica take the run over. Leases are bookkeeping, not
changes to the run: renewing or taking one over leaves `updated_at` alone.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from bot.core.errors import Conflict, NotFound
from bot.core.records import Approval, Decision, Run, RunKind, RunStatus, TierState
from bot.store.sql import Connection

_JSON = ("plan", "tiers", "options")
_COLUMNS = (
    "id, deployment_id, cluster, deployment, profile, version, kind, status, requested_by, channel,"
    " message_ts, thread_ts, fingerprint, plan, tiers, next_tier, error, options, created_at, updated_at,"
    " expires_at, approval_ts, lease_owner, lease_expires_at"
)
# A running run whose lease ran out (or that never had one: claimed before leases existed).
_EXPIRED = "status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"


def _record(row: dict[str, Any]) -> Run:
    return Run.model_validate({**row, **{k: json.loads(row[k]) for k in _JSON}})


def _select(
    db: Connection, where: str, params: Sequence[Any], order: str = "id", suffix: str = ""
) -> list[Run]:
    rows = db.query(f"SELECT {_COLUMNS} FROM runs WHERE {where} ORDER BY {order}{suffix}", list(params))  # noqa: S608 - our own fragments
    return [_record(r) for r in rows]


def create(
    db: Connection,
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
    # Under the profile's lock: deleting the profile checks for runs that are not finished.
    with db.transaction(f"profile:{profile}"):
        run_id = db.insert("runs", row)
    return draft.model_copy(update={"id": run_id})


def get(db: Connection, run_id: int, *, lock: bool = False) -> Run:
    """With `lock` (inside a transaction): the row stays ours until the transaction ends."""
    found = _select(db, "id = ?", [run_id], suffix=db.for_update if lock else "")
    if not found:
        raise NotFound(
            f"run {run_id} does not exist", hint="it may have been removed; start the deploy again"
        )
    return found[0]


def update(
    db: Connection,
    run_id: int,
    *,
    at: str,
    fields: dict[str, Any],
    only_if_status: Collection[str] | None = None,
) -> Run:
    if "id" in fields:
        raise ValueError("a run's id never changes")
    with db.transaction():
        current = get(db, run_id, lock=True)
        if only_if_status is not None and current.status not in only_if_status:
            raise Conflict(
                f"run {run_id} is already {current.status.replace('_', ' ')}",
                hint="nothing was changed; the card shows its latest state",
            )
        # Validate the whole record: tiers become TierState, bad statuses are refused.
        updated = Run.model_validate({**current.model_dump(), **fields, "updated_at": at})
        values = updated.model_dump(mode="json")
        changed = {k: json.dumps(values[k]) if k in _JSON else values[k] for k in [*fields, "updated_at"]}
        db.update("runs", run_id, changed)
    return updated


def with_status(db: Connection, statuses: Sequence[str]) -> list[Run]:
    if not statuses:
        return []
    return _select(db, f"status IN ({', '.join('?' for _ in statuses)})", statuses)


def claim_next(
    db: Connection, cluster: str, deployment: str, *, at: str, owner: str, lease_until: str
) -> Run | None:
    """Move the oldest queued run of this deployment to running, leased to `owner` until
    `lease_until`, unless one is running already (leased or not)."""
    with db.transaction():
        # Another replica claiming for this deployment right now gets the turn (PostgreSQL;
        # SQLite's write lock already made us wait for it).
        if not db.try_lock(f"claim:{cluster}/{deployment}"):
            return None
        busy = db.one(
            "SELECT id FROM runs WHERE cluster = ? AND deployment = ? AND status = 'running' LIMIT 1",
            [cluster, deployment],
        )
        head = db.one(
            "SELECT id FROM runs WHERE cluster = ? AND deployment = ? AND status = 'queued' ORDER BY id LIMIT 1",
            [cluster, deployment],
        )
        if busy is not None or head is None:
            return None
        # Only the head, in queue order: if another session holds its row, it is changing it now.
        found = _select(db, "id = ? AND status = 'queued'", [head["id"]], suffix=db.skip_locked)
        if not found:
            return None
        changes = {
            "status": "running",
            "updated_at": at,
            "lease_owner": owner,
            "lease_expires_at": lease_until,
        }
        db.update("runs", found[0].id, changes)
    return found[0].model_copy(update=changes)


def renew_lease(db: Connection, run_id: int, owner: str, *, lease_until: str) -> bool:
    """Extend `owner`'s lease on a running run; False if it is not (or no longer) theirs."""
    result = db.execute(
        "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
        [lease_until, run_id, owner],
    )
    return result.rowcount == 1


def expired(db: Connection, *, at: str) -> list[Run]:
    return _select(db, _EXPIRED, [at])


def take_over(db: Connection, run_id: int, owner: str, *, at: str, lease_until: str) -> Run | None:
    """Lease a running run whose lease expired to `owner`; None if it is not such a run."""
    with db.transaction():
        # One conditional UPDATE: of two contenders the second finds the lease renewed.
        result = db.execute(
            f"UPDATE runs SET lease_owner = ?, lease_expires_at = ? WHERE id = ? AND {_EXPIRED}",  # noqa: S608
            [owner, lease_until, run_id, at],
        )
        if result.rowcount != 1:
            return None
        return get(db, run_id)


def queue_position(db: Connection, run_id: int) -> int:
    """How many runs of the same deployment go before this one: 0 = running or next.

    A run that is not queued (awaiting approval, running or finished) waits for nobody: 0.
    """
    run = get(db, run_id)
    if run.status != "queued":
        return 0
    ahead = db.scalar(
        "SELECT COUNT(*) AS ahead FROM runs WHERE cluster = ? AND deployment = ?"
        " AND (status = 'running' OR (status = 'queued' AND id < ?))",
        [run.cluster, run.deployment, run.id],
    )
    return int(ahead)


def running(db: Connection, cluster: str, deployment: str) -> Run | None:
    found = _select(db, "cluster = ? AND deployment = ? AND status = 'running'", [cluster, deployment])
    return found[0] if found else None


def latest(db: Connection, cluster: str, deployment: str) -> Run | None:
    found = _select(db, "cluster = ? AND deployment = ?", [cluster, deployment], order="id DESC")
    return found[0] if found else None


def latest_per_deployment(db: Connection, cluster: str | None = None) -> list[Run]:
    """Each deployment's newest run, in one statement, without its plan (lists show the run's
    kind, version and status; a button that acts on a run reads it again by id)."""
    where = "WHERE cluster = ?" if cluster is not None else ""
    light = _COLUMNS.replace(" plan,", " '{}' AS plan,")
    rows = db.query(
        f"SELECT {light} FROM runs WHERE id IN (SELECT MAX(id) FROM runs {where} GROUP BY cluster, deployment)",  # noqa: S608
        [cluster] if cluster is not None else [],
    )
    return [_record(r) for r in rows]


def pending_approval(db: Connection, cluster: str, deployment: str) -> Run | None:
    found = _select(
        db,
        "cluster = ? AND deployment = ? AND status = 'awaiting_approval'",
        [cluster, deployment],
        order="id DESC",
    )
    return found[0] if found else None


def add_approval(
    db: Connection, run_id: int, user: str, decision: Decision, fingerprint: str, *, at: str
) -> bool:
    """Record one person's decision; False (and nothing stored) if they already decided."""
    Approval(run_id=run_id, user=user, decision=decision, fingerprint=fingerprint, at=at)
    with db.transaction():
        get(db, run_id)
        result = db.execute(
            'INSERT INTO approvals (run_id, "user", decision, fingerprint, at) VALUES (?, ?, ?, ?, ?)'
            ' ON CONFLICT (run_id, "user") DO NOTHING',
            [run_id, user, decision, fingerprint, at],
        )
    return result.rowcount == 1


def approvals(db: Connection, run_id: int) -> list[Approval]:
    rows = db.query(
        'SELECT run_id, "user", decision, fingerprint, at FROM approvals WHERE run_id = ? ORDER BY id',
        [run_id],
    )
    return [Approval.model_validate(r) for r in rows]


def requested_by(db: Connection, user: str, *, limit: int) -> list[Run]:
    """The user's `limit` newest runs, newest first (the App Home's "your last runs")."""
    return _select(db, "requested_by = ?", [user, limit], order="id DESC", suffix=" LIMIT ?")
