"""The schema as an ordered list of migrations, recorded in the `schema_version` table.

Migration N (1-based) is applied when the database is at a version below N; a migration, once
released, never changes: add a new one instead. Each is a list of statements written once, with
`{id}`, `{int}` and `{text}` standing for the column types each database spells its own way (see
`types` in bot.store.sqlite and bot.store.postgres), plus statements only one database needs.
JSON columns hold, as text, the lists and mappings the records carry (tags, outputs, plan…).

All pending migrations run in one transaction under the migration lock: on SQLite the write
lock, on PostgreSQL an advisory lock, so two replicas starting together migrate once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.store import sql

LOCK = "migrate"


@dataclass(frozen=True)
class Migration:
    statements: tuple[str, ...]
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()

    def for_dialect(self, conn: sql.Connection) -> list[str]:
        own = self.sqlite if conn.dialect == "sqlite" else self.postgresql
        return [_typed(s, conn) for s in (*self.statements, *own)]


def _typed(statement: str, conn: sql.Connection) -> str:
    # Plain replacement, not str.format: DDL holds JSON defaults such as '{}'.
    for token, spelled in conn.types.items():
        statement = statement.replace("{" + token + "}", spelled)
    return statement


class Migrated(NamedTuple):
    before: int
    after: int


MIGRATIONS: tuple[Migration, ...] = (
    # 1: profiles, deployments, runs, approvals, audit, channel context.
    Migration(
        (
            """CREATE TABLE versions (
                id {id},
                name {text} NOT NULL,
                version {text} NOT NULL,
                -- semver parts, so "latest" is 1.10.0 and not 1.9.0
                major {int} NOT NULL,
                minor {int} NOT NULL,
                patch {int} NOT NULL,
                yaml {text} NOT NULL,
                description {text} NOT NULL DEFAULT '',
                tags {text} NOT NULL DEFAULT '[]',
                created_by {text} NOT NULL,
                created_at {text} NOT NULL,
                kind {text} NOT NULL CHECK (kind IN ('create', 'version', 'clone', 'import')),
                source {text}
            )""",
            "CREATE UNIQUE INDEX versions_name_version ON versions (name, version)",
            "CREATE INDEX versions_name_semver ON versions (name, major, minor, patch)",
            """CREATE TABLE channel_profiles (
                channel {text} PRIMARY KEY,
                profile {text} NOT NULL,
                updated_at {text} NOT NULL
            )""",
            """CREATE TABLE deployments (
                id {id},
                cluster {text} NOT NULL,
                name {text} NOT NULL,
                profile {text} NOT NULL,
                version {text} NOT NULL,
                status {text} NOT NULL
                    CHECK (status IN ('pending', 'deploying', 'ready', 'failed', 'deleting', 'deleted')),
                last_good_version {text},
                channel {text} NOT NULL,
                message_ts {text},
                created_by {text} NOT NULL,
                updated_at {text} NOT NULL,
                outputs {text} NOT NULL DEFAULT '{}',
                inventory {text} NOT NULL DEFAULT '[]'
            )""",
            "CREATE UNIQUE INDEX deployments_cluster_name ON deployments (cluster, name)",
            "CREATE INDEX deployments_profile ON deployments (profile, status)",
            """CREATE TABLE runs (
                id {id},
                deployment_id {int} REFERENCES deployments (id) ON DELETE SET NULL,
                cluster {text} NOT NULL,
                deployment {text} NOT NULL,
                profile {text} NOT NULL,
                version {text} NOT NULL,
                kind {text} NOT NULL CHECK (kind IN ('deploy', 'rollback', 'delete')),
                status {text} NOT NULL CHECK (status IN ('queued', 'awaiting_approval', 'running',
                    'succeeded', 'failed', 'cancelled', 'superseded', 'rejected', 'expired')),
                requested_by {text} NOT NULL,
                channel {text} NOT NULL,
                message_ts {text},
                thread_ts {text},
                fingerprint {text} NOT NULL,
                plan {text} NOT NULL DEFAULT '{}',
                tiers {text} NOT NULL DEFAULT '[]',
                next_tier {int} NOT NULL DEFAULT 0,
                error {text},
                options {text} NOT NULL DEFAULT '{}',
                created_at {text} NOT NULL,
                updated_at {text} NOT NULL,
                expires_at {text},
                approval_ts {text}
            )""",
            "CREATE INDEX runs_target_status ON runs (cluster, deployment, status)",
            "CREATE INDEX runs_status ON runs (status)",
            "CREATE INDEX runs_profile_version ON runs (profile, version, status)",
            """CREATE TABLE approvals (
                id {id},
                run_id {int} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                "user" {text} NOT NULL,
                decision {text} NOT NULL CHECK (decision IN ('approve', 'reject')),
                fingerprint {text} NOT NULL,
                at {text} NOT NULL
            )""",
            # one decision per person per run: a double click changes nothing
            'CREATE UNIQUE INDEX approvals_run_user ON approvals (run_id, "user")',
            """CREATE TABLE audit (
                id {id},
                at {text} NOT NULL,
                actor {text} NOT NULL,
                channel {text} NOT NULL,
                action {text} NOT NULL,
                target {text} NOT NULL,
                result {text} NOT NULL,
                detail {text} NOT NULL DEFAULT '',
                -- what the row is about, for `/appprofile audit` filters
                profile {text},
                cluster {text}
            )""",
            "CREATE INDEX audit_profile ON audit (profile)",
            "CREATE INDEX audit_cluster ON audit (cluster)",
        )
    ),
    # 2: runs held as leases, so several replicas can drive runs and take over a dead one's.
    Migration(
        (
            "ALTER TABLE runs ADD COLUMN lease_owner {text}",
            "ALTER TABLE runs ADD COLUMN lease_expires_at {text}",
            "CREATE INDEX runs_status_lease ON runs (status, lease_expires_at)",
        )
    ),
    # 3: signed Slack requests already executed, shared by every replica (replays and retries
    # reach any of them); only a digest of each signature is kept, for Slack's five minutes.
    Migration(
        (
            "CREATE TABLE seen_requests (digest {text} PRIMARY KEY, at {text} NOT NULL)",
            "CREATE INDEX seen_requests_at ON seen_requests (at)",
        )
    ),
    # 4: day two. `drift_seen` is a digest of the drift last announced in the deployment's
    # channel (announce once per drift, not every check); `applied_fields` holds, per applied
    # object, the keyed digests of the fields the bot sent (`bot.core.drift`), apart from the
    # deployment's row so lists never parse them; `home_views` holds who opened the App Home and
    # a digest of the view last published to them (republish only on change).
    Migration(
        (
            "ALTER TABLE deployments ADD COLUMN drift_seen {text} NOT NULL DEFAULT ''",
            """CREATE TABLE applied_fields (
                deployment_id {int} NOT NULL,
                object {text} NOT NULL,
                fields {text} NOT NULL,
                PRIMARY KEY (deployment_id, object)
            )""",
            """CREATE TABLE home_views (
                user_id {text} PRIMARY KEY,
                opened_at {text} NOT NULL,
                digest {text} NOT NULL DEFAULT ''
            )""",
        )
    ),
)

# Every table `db copy` carries over, parents before children, with the order to copy rows in.
TABLES: tuple[tuple[str, str], ...] = (
    ("versions", "id"),
    ("channel_profiles", "channel"),
    ("deployments", "id"),
    ("runs", "id"),
    ("approvals", "id"),
    ("audit", "id"),
    ("applied_fields", "object"),
    ("home_views", "user_id"),
)


def current_version(conn: sql.Connection) -> int:
    """The version the database is at (0: empty). Needs the `schema_version` table."""
    recorded = int(conn.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0)
    # A SQLite file from before the table existed says it in PRAGMA user_version.
    return max(recorded, conn.legacy_version())


def migrate(conn: sql.Connection, *, at: str, steps: Sequence[Migration] = MIGRATIONS) -> Migrated:
    """Apply the migrations not applied yet, all in one transaction; returns (before, after)."""
    with conn.transaction(LOCK):
        # Read under the lock: two processes opening a fresh database must not both migrate.
        conn.execute(
            _typed(
                "CREATE TABLE IF NOT EXISTS schema_version (version {int} PRIMARY KEY, applied_at {text} NOT NULL)",
                conn,
            )
        )
        done = current_version(conn)
        if done > len(steps):
            raise RuntimeError(
                f"the database schema is version {done}, newer than this program knows ({len(steps)})"
            )
        for number, step in enumerate(steps[done:], start=done + 1):
            for statement in step.for_dialect(conn):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", [number, at])
        if done < len(steps):
            conn.mark_version(len(steps))
    return Migrated(done, len(steps))
