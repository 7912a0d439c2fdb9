"""Deployments: what runs where, its status, outputs and the objects it applied (DESIGN §4)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.errors import NotFound
from bot.core.records import Deployment
from bot.store.sql import Connection

_JSON = ("outputs", "inventory")
_COLUMNS = (
    "id, cluster, name, profile, version, status, last_good_version, channel, message_ts, created_by,"
    " updated_at, outputs, inventory, drift_seen"
)


def _record(row: dict[str, Any]) -> Deployment:
    return Deployment.model_validate({**row, **{k: json.loads(row[k]) for k in _JSON}})


def _select(db: Connection, where: str, params: list[Any], suffix: str = "") -> list[Deployment]:
    statement = f"SELECT {_COLUMNS} FROM deployments WHERE {where} ORDER BY cluster, name{suffix}"  # noqa: S608 - our own fragments
    rows = db.query(statement, params)
    return [_record(r) for r in rows]


def get(db: Connection, cluster: str, name: str) -> Deployment | None:
    found = _select(db, "cluster = ? AND name = ?", [cluster, name])
    return found[0] if found else None


def get_by_id(db: Connection, deployment_id: int, *, lock: bool = False) -> Deployment:
    found = _select(db, "id = ?", [deployment_id], db.for_update if lock else "")
    if not found:
        raise NotFound(
            f"deployment #{deployment_id} does not exist", hint="`/appprofile deployments` lists them"
        )
    return found[0]


def find(db: Connection, name: str) -> list[Deployment]:
    return _select(db, "name = ?", [name])


def list_all(db: Connection, cluster: str | None = None) -> list[Deployment]:
    if cluster is None:
        return _select(db, "1 = 1", [])
    return _select(db, "cluster = ?", [cluster])


def upsert(
    db: Connection, cluster: str, name: str, *, at: str, profile: str, version: str, channel: str, actor: str
) -> Deployment:
    """Record the deployment a deploy targets. A new one starts `pending`; an existing one keeps
    its status (the executor moves it) unless it was deleted, which brings it back as `pending`."""
    # Under the profile's lock: deleting the profile checks for deployments that use it.
    with db.transaction(f"profile:{profile}"):
        db.execute(
            "INSERT INTO deployments"
            " (cluster, name, profile, version, status, channel, created_by, updated_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
            " ON CONFLICT (cluster, name) DO UPDATE SET profile = excluded.profile,"
            " version = excluded.version, channel = excluded.channel, updated_at = excluded.updated_at,"
            " status = CASE deployments.status WHEN 'deleted' THEN 'pending' ELSE deployments.status END",
            [cluster, name, profile, version, channel, actor, at],
        )
        found = get(db, cluster, name)
    if found is None:
        raise RuntimeError(f"deployment {cluster}/{name} vanished right after it was written")
    return found


def update(db: Connection, deployment_id: int, *, at: str, fields: dict[str, Any]) -> Deployment:
    if "id" in fields:
        raise ValueError("a deployment's id never changes")
    with db.transaction():
        current = get_by_id(db, deployment_id, lock=True)
        # Validate the whole record, so a bad status or output shape never reaches the table.
        updated = Deployment.model_validate({**current.model_dump(), **fields, "updated_at": at})
        values = updated.model_dump(mode="json")
        # Only the named columns: a concurrent writer's change to another field survives.
        changed = {k: json.dumps(values[k]) if k in _JSON else values[k] for k in [*fields, "updated_at"]}
        db.update("deployments", deployment_id, changed)
    return updated
