"""Profile versions (append-only, DESIGN §2) and each channel's current profile."""

from __future__ import annotations

import json
from typing import Any

from bot.core import model
from bot.core.errors import Conflict, NotFound, UserError, did_you_mean
from bot.core.model import Profile
from bot.core.records import ACTIVE_RUN_STATUSES, ProfileSummary, VersionKind, VersionRecord
from bot.store import audit
from bot.store.sealing import Sealer
from bot.store.sql import Connection, IntegrityError

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


def _lock(name: str) -> str:
    """The lock a change to profile `name` holds (PostgreSQL; SQLite's write lock covers it)."""
    return f"profile:{name}"


def names(db: Connection) -> list[str]:
    return [r["name"] for r in db.query("SELECT DISTINCT name FROM versions ORDER BY name")]


def _latest(db: Connection, name: str, sealer: Sealer | None = None) -> VersionRecord | None:
    row = db.one(
        f"SELECT {_COLUMNS} FROM versions WHERE name = ? ORDER BY {_SEMVER_DESC} LIMIT 1",  # noqa: S608 - our own column list
        [name],
    )
    return _record(row, sealer) if row else None


def _as_written(text: str | None, profile: Profile) -> str:
    if text is not None:
        try:
            if model.from_yaml(text) == profile:
                return text
        except UserError:
            pass
    return model.to_yaml(profile)


def create_version(
    db: Connection,
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
    with db.transaction(_lock(profile.name)):
        latest = _latest(db, profile.name, sealer)
        exists = db.one(
            "SELECT 1 AS found FROM versions WHERE name = ? AND version = ?", [profile.name, profile.version]
        )
        if exists is not None:
            raise _duplicate(profile.name, profile.version, latest)
        if latest is not None:
            model.check_lineage(latest.profile(), profile)
        try:
            db.insert(
                "versions",
                {
                    **record.model_dump(),
                    "yaml": sealer.seal(record.yaml),
                    "tags": json.dumps(record.tags),
                    "major": major,
                    "minor": minor,
                    "patch": patch,
                },
            )
        except IntegrityError:
            # The lock makes this unreachable between our own connections; another writer
            # that skips it still lands here and gets the same answer.
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
    db: Connection, name: str, version: str | None = None, *, sealer: Sealer | None = None
) -> VersionRecord:
    if version is None:
        latest = _latest(db, name, sealer)
        if latest is None:
            raise _no_profile(db, name)
        return latest
    wanted = model.normalize_version(version)
    row = db.one(f"SELECT {_COLUMNS} FROM versions WHERE name = ? AND version = ?", [name, wanted])  # noqa: S608
    if row:
        return _record(row, sealer)
    existing = [r.version for r in list_versions(db, name)]
    if not existing:
        raise _no_profile(db, name)
    raise NotFound(
        f"{name} has no version {wanted}",
        hint=did_you_mean(wanted, existing, what=f"versions of {name}"),
    )


def _no_profile(db: Connection, name: str) -> NotFound:
    return NotFound(f"there is no profile named {name}", hint=did_you_mean(name, names(db), what="profiles"))


def list_versions(db: Connection, name: str, sealer: Sealer | None = None) -> list[VersionRecord]:
    rows = db.query(f"SELECT {_COLUMNS} FROM versions WHERE name = ? ORDER BY {_SEMVER}", [name])  # noqa: S608
    return [_record(r, sealer) for r in rows]


def latest_version(db: Connection, name: str) -> str | None:
    latest = _latest(db, name)
    return latest.version if latest is not None else None


def latest_versions(db: Connection) -> dict[str, str]:
    """Every profile's newest version, in one statement (one index probe per profile)."""
    rows = db.query(
        "SELECT n.name, (SELECT w.version FROM versions w WHERE w.name = n.name"  # noqa: S608 - our own fragment
        f" ORDER BY {_SEMVER_DESC} LIMIT 1) AS latest FROM (SELECT DISTINCT name FROM versions) n",
        [],
    )
    return {str(r["name"]): str(r["latest"]) for r in rows}


def list_profiles(db: Connection) -> list[ProfileSummary]:
    rows = db.query(
        """
        SELECT name, version AS latest_version, version_count, description, updated_at FROM (
            SELECT name, version, description,
                ROW_NUMBER() OVER (PARTITION BY name ORDER BY major DESC, minor DESC, patch DESC) AS rank,
                COUNT(*) OVER (PARTITION BY name) AS version_count,
                MAX(created_at) OVER (PARTITION BY name) AS updated_at
            FROM versions
        ) AS ranked WHERE rank = 1 ORDER BY name
        """
    )
    return [ProfileSummary.model_validate(r) for r in rows]


def _refuse_if_in_use(db: Connection, name: str, version: str | None) -> None:
    """Conflict naming what still uses the profile (or one version of it)."""
    label = f"{name} {version}" if version else name
    where, params = "profile = ? AND status != 'deleted'", [name]
    if version is not None:
        # The version being deployed and the one running until it succeeds both count.
        where += " AND (version = ? OR last_good_version = ?)"
        params += [version, version]
    rows = db.query(f"SELECT cluster, name FROM deployments WHERE {where} ORDER BY cluster, name", params)  # noqa: S608
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
    statement = f"SELECT id, cluster, deployment, status FROM runs WHERE {where} ORDER BY id"  # noqa: S608
    runs = [
        f"run {r['id']} ({r['cluster']}/{r['deployment']}, {r['status'].replace('_', ' ')})"
        for r in db.query(statement, params)
    ]
    if runs:
        raise Conflict(
            f"{label} has runs that are not finished: {', '.join(runs)}",
            hint="wait until they finish, or reject the pending approval, then delete again",
        )


def delete_version(db: Connection, name: str, version: str, *, at: str, actor: str, channel: str) -> None:
    with db.transaction(_lock(name)):
        record = get_version(db, name, version)
        _refuse_if_in_use(db, name, record.version)
        db.execute("DELETE FROM versions WHERE name = ? AND version = ?", [name, record.version])
        if latest_version(db, name) is None:
            db.execute("DELETE FROM channel_profiles WHERE profile = ?", [name])
        audit.write(db, at=at, actor=actor, channel=channel, action="delete", target=record.ref, result="ok")


def delete_profile(db: Connection, name: str, *, at: str, actor: str, channel: str) -> None:
    with db.transaction(_lock(name)):
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


def set_current(db: Connection, channel: str, name: str, *, at: str) -> None:
    db.execute(
        "INSERT INTO channel_profiles (channel, profile, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (channel) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
        [channel, name, at],
    )


def get_current(db: Connection, channel: str) -> str | None:
    row = db.one("SELECT profile FROM channel_profiles WHERE channel = ?", [channel])
    return str(row["profile"]) if row is not None else None
