"""The schema as an ordered list of migration steps, tracked with `PRAGMA user_version`.

Step N (1-based) is applied when `user_version < N`; a step, once released, never changes: add a
new one instead. JSON columns hold lists and mappings the records carry (tags, outputs, plan…).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlite_utils import Database

from bot.store import transaction

MIGRATIONS: tuple[str, ...] = (
    # 1: profiles, deployments, runs, approvals, audit, channel context.
    """
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        -- semver parts, so "latest" is 1.10.0 and not 1.9.0
        major INTEGER NOT NULL,
        minor INTEGER NOT NULL,
        patch INTEGER NOT NULL,
        yaml TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '[]',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('create', 'version', 'clone', 'import')),
        source TEXT
    );
    CREATE UNIQUE INDEX versions_name_version ON versions (name, version);
    CREATE INDEX versions_name_semver ON versions (name, major, minor, patch);

    CREATE TABLE channel_profiles (
        channel TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        cluster TEXT NOT NULL,
        name TEXT NOT NULL,
        profile TEXT NOT NULL,
        version TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'deploying', 'ready', 'failed', 'deleting', 'deleted')),
        last_good_version TEXT,
        channel TEXT NOT NULL,
        message_ts TEXT,
        created_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        outputs TEXT NOT NULL DEFAULT '{}',
        inventory TEXT NOT NULL DEFAULT '[]'
    );
    CREATE UNIQUE INDEX deployments_cluster_name ON deployments (cluster, name);
    CREATE INDEX deployments_profile ON deployments (profile, status);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        deployment_id INTEGER REFERENCES deployments (id) ON DELETE SET NULL,
        cluster TEXT NOT NULL,
        deployment TEXT NOT NULL,
        profile TEXT NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback', 'delete')),
        status TEXT NOT NULL CHECK (status IN ('queued', 'awaiting_approval', 'running', 'succeeded',
            'failed', 'cancelled', 'superseded', 'rejected', 'expired')),
        requested_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        message_ts TEXT,
        thread_ts TEXT,
        fingerprint TEXT NOT NULL,
        plan TEXT NOT NULL DEFAULT '{}',
        tiers TEXT NOT NULL DEFAULT '[]',
        next_tier INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expires_at TEXT,
        approval_ts TEXT
    );
    CREATE INDEX runs_target_status ON runs (cluster, deployment, status);
    CREATE INDEX runs_status ON runs (status);
    CREATE INDEX runs_profile_version ON runs (profile, version, status);

    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        user TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
        fingerprint TEXT NOT NULL,
        at TEXT NOT NULL
    );
    -- one decision per person per run: a double click changes nothing
    CREATE UNIQUE INDEX approvals_run_user ON approvals (run_id, user);

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        channel TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        -- what the row is about, for `/appprofile audit` filters
        profile TEXT,
        cluster TEXT
    );
    CREATE INDEX audit_profile ON audit (profile);
    CREATE INDEX audit_cluster ON audit (cluster);
    """,
)


def user_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, steps: Sequence[str] = MIGRATIONS) -> int:
    """Apply the steps not applied yet, all in one write transaction; return the new user_version."""
    with transaction.immediate(db):
        # Read inside the write lock: two processes opening a fresh file must not both migrate.
        done = user_version(db)
        if done > len(steps):
            raise RuntimeError(
                f"the database schema is version {done}, newer than this program knows ({len(steps)})"
            )
        for step in steps[done:]:
            db.executescript(step)
        if done < len(steps):
            # PRAGMA takes no parameters; the value is our own integer.
            db.execute(f"PRAGMA user_version = {len(steps)}")
    return len(steps)
