"""Deployments: what runs where, its status, outputs and the objects it applied (DESIGN §4)."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from bot.core.errors import NotFound
from bot.core.records import Deployment
from bot.store import transaction

_JSON = ("outputs", "inventory")
_COLUMNS = (
    "id, cluster, name, profile, version, status, last_good_version, channel, message_ts, created_by,"
    " updated_at, outputs, inventory"
)


def _record(row: dict[str, Any]) -> Deployment:
    return Deployment.model_validate({**row, **{k: json.loads(row[k]) for k in _JSON}})


def _select(db: Database, where: str, params: list[Any]) -> list[Deployment]:
    rows = db.table("deployments").rows_where(where, params, order_by="cluster, name", select=_COLUMNS)
    return [_record(r) for r in rows]


def get(db: Database, cluster: str, name: str) -> Deployment | None:
    found = _select(db, "cluster = ? AND name = ?", [cluster, name])
    return found[0] if found else None


def get_by_id(db: Database, deployment_id: int) -> Deployment:
    found = _select(db, "id = ?", [deployment_id])
    if not found:
        raise NotFound(
            f"deployment #{deployment_id} does not exist", hint="`/appprofile deployments` lists them"
        )
    return found[0]


def find(db: Database, name: str) -> list[Deployment]:
    return _select(db, "name = ?", [name])


def list_all(db: Database, cluster: str | None = None) -> list[Deployment]:
    if cluster is None:
        return _select(db, "1", [])
    return _select(db, "cluster = ?", [cluster])


def upsert(
    db: Database, cluster: str, name: str, *, at: str, profile: str, version: str, channel: str, actor: str
) -> Deployment:
    """Record the deployment a deploy targets. A new one starts `pending`; an existing one keeps
    its status (the executor moves it) unless it was deleted, which brings it back as `pending`."""
    with transaction.immediate(db):
        db.execute(
            "INSERT INTO deployments"
            " (cluster, name, profile, version, status, channel, created_by, updated_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
            " ON CONFLICT (cluster, name) DO UPDATE SET profile = excluded.profile,"
            " version = excluded.version, channel = excluded.channel, updated_at = excluded.updated_at,"
            " status = CASE status WHEN 'deleted' THEN 'pending' ELSE status END",
            [cluster, name, profile, version, channel, actor, at],
        )
        found = get(db, cluster, name)
    if found is None:
        raise RuntimeError(f"deployment {cluster}/{name} vanished right after it was written")
    return found


def update(db: Database, deployment_id: int, *, at: str, fields: dict[str, Any]) -> Deployment:
    if "id" in fields:
        raise ValueError("a deployment's id never changes")
    with transaction.immediate(db):
        current = get_by_id(db, deployment_id)
        # Validate the whole record, so a bad status or output shape never reaches the table.
        updated = Deployment.model_validate({**current.model_dump(), **fields, "updated_at": at})
        values = updated.model_dump(mode="json")
        # Only the named columns: a concurrent writer's change to another field survives.
        changed = {k: json.dumps(values[k]) if k in _JSON else values[k] for k in [*fields, "updated_at"]}
        db.table("deployments").update(deployment_id, changed)
    return updated
