"""Profile versions (append-only, DESIGN §2) and each channel's current profile."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlite_utils import Database

from bot.core import model
from bot.core.errors import Conflict, NotFound, UserError, did_you_mean
from bot.core.model import Profile
from bot.core.records import ACTIVE_RUN_STATUSES, ProfileSummary, VersionKind, VersionRecord
from bot.store import audit, transaction
from bot.store.sealing import Sealer

_COLUMNS = "name, version, yaml, description, tags, created_by, created_at, kind, source"
_SEMVER_DESC = "major DESC, minor DESC, patch DESC"
_SEMVER = "major, minor, patch"


def _record(row: dict[str, Any], sealer: Sealer | None = None) -> VersionRecord:
    """A version row as a record; with `sealer`, its YAML opened (without, left as stored: for
    callers that need only the name and version)."""
    text = sealer.open(row["yaml"]) if sealer is not None else row["yaml"]
    return VersionRecord.model_validate({**row, "yaml": text, "tags": json.loads(row["tags"])})


def _next_patch(version: str) -> str:
    major, minor, patch = model.version_key(version)
    return f"{major}.{minor}.{patch + 1}"


def names(db: Database) -> list[str]:
    return [r["name"] for r in db.query("SELECT DISTINCT name FROM versions ORDER BY name")]


def _latest(db: Database, name: str, sealer: Sealer | None = None) -> VersionRecord | None:
    rows = list(
        db.table("versions").rows_where("name = ?", [name], order_by=_SEMVER_DESC, select=_COLUMNS, limit=1)
    )
    return _record(rows[0], sealer) if rows else None


def _as_written(text: str | None, profile: Profile) -> str:
    if text is not None:
        try:
            if model.from_yaml(text) == profile:
                return text
        except UserError:
            pass
    return model.to_yaml(profile)


def create_version(
    db: Database,
    profile: Profile,
    *,
    at: str,
    actor: str,
    channel: str,
    kind: VersionKind,
    source: str | None = None,
    text: str | None = None,
    sealer: Sealer,
) -> VersionRecord:
    record = VersionRecord(
        name=profile.name,
        version=profile.version,
        yaml=_as_written(text, profile),
        description=profile.description,
        tags=list(profile.tags),
        created_by=actor,
        created_at=at,
        kind=kind,
        source=source,
    )
    major, minor, patch = model.version_key(profile.version)
    with transaction.immediate(db):
        latest = _latest(db, profile.name, sealer)
        exists = db.execute(
            "SELECT 1 FROM versions WHERE name = ? AND version = ?", [profile.name, profile.version]
        ).fetchone()
        if exists is not None:
            raise _duplicate(profile.name, profile.version, latest)
        if latest is not None:
            model.check_lineage(latest.profile(), profile)
        try:
            db.table("versions").insert(
                {
                    **record.model_dump(),
                    "yaml": sealer.seal(record.yaml),
                    "tags": json.dumps(record.tags),
                    "major": major,
                    "minor": minor,
                    "patch": patch,
                }
            )
        except sqlite3.IntegrityError:
            # The write lock makes this unreachable between our own connections; another
            # writer that skips BEGIN IMMEDIATE still lands here and gets the same answer.
            raise _duplicate(profile.name, profile.version, latest) from None
        audit.write(
            db,
            at=at,
            actor=actor,
            channel=channel,
            action=kind,
            target=record.ref,
            result="ok",
            detail=f"from {source}" if source else "",
        )
    return record


def _duplicate(name: str, version: str, latest: VersionRecord | None) -> Conflict:
    newest = latest.version if latest is not None else version
    following = _next_patch(newest)
    return Conflict(
        f"{name} {version} already exists",
        hint=f"versions never change; create {following} instead (`/appprofile version {name} {following}`)",
    )


def get_version(
    db: Database, name: str, version: str | None = None, *, sealer: Sealer | None = None
) -> VersionRecord:
    if version is None:
        latest = _latest(db, name, sealer)
        if latest is None:
            raise _no_profile(db, name)
        return latest
    wanted = model.normalize_version(version)
    rows = list(db.table("versions").rows_where("name = ? AND version = ?", [name, wanted], select=_COLUMNS))
    if rows:
        return _record(rows[0], sealer)
    existing = [r.version for r in list_versions(db, name)]
    if not existing:
        raise _no_profile(db, name)
    raise NotFound(
        f"{name} has no version {wanted}",
        hint=did_you_mean(wanted, existing, what=f"versions of {name}"),
    )


def _no_profile(db: Database, name: str) -> NotFound:
    return NotFound(f"there is no profile named {name}", hint=did_you_mean(name, names(db), what="profiles"))


def list_versions(db: Database, name: str, sealer: Sealer | None = None) -> list[VersionRecord]:
    rows = db.table("versions").rows_where("name = ?", [name], order_by=_SEMVER, select=_COLUMNS)
    return [_record(r, sealer) for r in rows]


def latest_version(db: Database, name: str) -> str | None:
    latest = _latest(db, name)
    return latest.version if latest is not None else None


def list_profiles(db: Database) -> list[ProfileSummary]:
    rows = db.query(
        """
        SELECT name, version AS latest_version, version_count, description, updated_at FROM (
            SELECT name, version, description,
                ROW_NUMBER() OVER (PARTITION BY name ORDER BY major DESC, minor DESC, patch DESC) AS rank,
                COUNT(*) OVER (PARTITION BY name) AS version_count,
                MAX(created_at) OVER (PARTITION BY name) AS updated_at
            FROM versions
        ) WHERE rank = 1 ORDER BY name
        """
    )
    return [ProfileSummary.model_validate(r) for r in rows]


def _refuse_if_in_use(db: Database, name: str, version: str | None) -> None:
    """Conflict naming what still uses the profile (or one version of it)."""
    label = f"{name} {version}" if version else name
    where, params = "profile = ? AND status != 'deleted'", [name]
    if version is not None:
        # The version being deployed and the one running until it succeeds both count.
        where += " AND (version = ? OR last_good_version = ?)"
        params += [version, version]
    rows = list(db.table("deployments").rows_where(where, params, order_by="cluster, name"))
    if rows:
        listing = ", ".join(f"{r['cluster']}/{r['name']}" for r in rows)
        commands = " then ".join(f"`/appprofile delete {r['name']} from {r['cluster']}`" for r in rows)
        raise Conflict(
            f"{label} is in use by deployment {listing}",
            hint=f"delete those deployments first ({commands}) or deploy another version",
        )
    marks = ", ".join("?" for _ in ACTIVE_RUN_STATUSES)
    where, params = f"profile = ? AND status IN ({marks})", [name, *ACTIVE_RUN_STATUSES]
    if version is not None:
        where += " AND version = ?"
        params.append(version)
    runs = [
        f"run {r['id']} ({r['cluster']}/{r['deployment']}, {r['status'].replace('_', ' ')})"
        for r in db.table("runs").rows_where(where, params, order_by="id")
    ]
    if runs:
        raise Conflict(
            f"{label} has runs that are not finished: {', '.join(runs)}",
            hint="wait until they finish, or reject the pending approval, then delete again",
        )


def delete_version(db: Database, name: str, version: str, *, at: str, actor: str, channel: str) -> None:
    with transaction.immediate(db):
        record = get_version(db, name, version)
        _refuse_if_in_use(db, name, record.version)
        db.execute("DELETE FROM versions WHERE name = ? AND version = ?", [name, record.version])
        if latest_version(db, name) is None:
            db.execute("DELETE FROM channel_profiles WHERE profile = ?", [name])
        audit.write(db, at=at, actor=actor, channel=channel, action="delete", target=record.ref, result="ok")


def delete_profile(db: Database, name: str, *, at: str, actor: str, channel: str) -> None:
    with transaction.immediate(db):
        versions = [r.version for r in list_versions(db, name)]
        if not versions:
            raise _no_profile(db, name)
        _refuse_if_in_use(db, name, None)
        db.execute("DELETE FROM versions WHERE name = ?", [name])
        db.execute("DELETE FROM channel_profiles WHERE profile = ?", [name])
        audit.write(
            db,
            at=at,
            actor=actor,
            channel=channel,
            action="delete",
            target=name,
            result="ok",
            detail=f"versions {', '.join(versions)}",
        )


def set_current(db: Database, channel: str, name: str, *, at: str) -> None:
    db.execute(
        "INSERT INTO channel_profiles (channel, profile, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (channel) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
        [channel, name, at],
    )


def get_current(db: Database, channel: str) -> str | None:
    row = db.execute("SELECT profile FROM channel_profiles WHERE channel = ?", [channel]).fetchone()
    return str(row[0]) if row is not None else None
