"""`Store`: the one object the rest of the app uses to reach SQLite.

sqlite3 connections must stay on the thread that opened them, and the bot runs Slack handlers
and the executor on several threads, so each thread gets its own connection to the file (WAL:
readers never block the writer). `:memory:` has no file to share, so there one connection
serves every thread, one call at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.core import model, secrets
from bot.core.catalog import Catalog
from bot.core.errors import UserError
from bot.core.model import Profile
from bot.core.records import (
    Approval,
    AuditEntry,
    Decision,
    Deployment,
    ProfileSummary,
    Run,
    RunKind,
    RunStatus,
    TierState,
    VersionKind,
    VersionRecord,
)
from bot.store import audit, deployments, profiles, runs, schema, sealing, transaction

BUSY_TIMEOUT_MS = 5000


def iso(epoch_seconds: float) -> str:
    """ISO 8601 UTC with a `Z`: sorts as text in time order, which `expires_at` checks rely on."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        now: Callable[[], float] = time.time,
        sealer: sealing.Sealer | None = None,
    ) -> None:
        self.path = str(path)
        self._now = now
        # Seals the columns that can hold user-given secrets (see bot.store.sealing).
        self.sealer = sealer or sealing.Sealer(None)
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shared: Database | None = None
        if self.path == ":memory:":
            self._shared = self._connect(check_same_thread=False)
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            schema.migrate(db)

    # -- connections -------------------------------------------------------------------------

    def _connect(self, *, check_same_thread: bool = True) -> Database:
        # isolation_level=None: no implicit transactions; writes that must be atomic say
        # BEGIN IMMEDIATE themselves (bot.store.transaction).
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Overwrite what is deleted or rewritten: sealing old clear rows must not leave them in free pages.
        conn.execute("PRAGMA secure_delete = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        return Database(conn, execute_plugins=False)

    @contextlib.contextmanager
    def _db(self) -> Iterator[Database]:
        if self._shared is not None:
            with self._lock:
                yield self._shared
            return
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        yield db

    def close(self) -> None:
        """Close this thread's connection (other threads' close when those threads end)."""
        if self._shared is not None:
            with self._lock:
                self._shared.close()
            return
        db: Database | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def timestamp(self, seconds_from_now: float = 0.0) -> str:
        """The store's clock as the ISO text it writes, e.g. to set or compare `expires_at`."""
        return iso(self._now() + seconds_from_now)

    # -- profiles ----------------------------------------------------------------------------

    def create_version(
        self,
        profile: Profile,
        *,
        actor: str,
        channel: str,
        kind: VersionKind,
        source: str | None = None,
        text: str | None = None,
    ) -> VersionRecord:
        """`text`: the YAML the person wrote, kept verbatim (comments, order) when it is exactly
        this profile, so an imported file exports byte for byte; otherwise the canonical YAML."""
        with self._db() as db:
            return profiles.create_version(
                db,
                profile,
                at=self.timestamp(),
                actor=actor,
                channel=channel,
                kind=kind,
                source=source,
                text=text,
                sealer=self.sealer,
            )

    def get_version(self, name: str, version: str | None = None) -> VersionRecord:
        with self._db() as db:
            return profiles.get_version(db, name, version, sealer=self.sealer)

    def list_profiles(self) -> list[ProfileSummary]:
        with self._db() as db:
            return profiles.list_profiles(db)

    def list_versions(self, name: str) -> list[VersionRecord]:
        with self._db() as db:
            return profiles.list_versions(db, name, self.sealer)

    def latest_version(self, name: str) -> str | None:
        with self._db() as db:
            return profiles.latest_version(db, name)

    def delete_version(self, name: str, version: str, *, actor: str, channel: str) -> None:
        with self._db() as db:
            profiles.delete_version(db, name, version, at=self.timestamp(), actor=actor, channel=channel)

    def delete_profile(self, name: str, *, actor: str, channel: str) -> None:
        with self._db() as db:
            profiles.delete_profile(db, name, at=self.timestamp(), actor=actor, channel=channel)

    def set_current(self, channel: str, name: str) -> None:
        with self._db() as db:
            profiles.set_current(db, channel, name, at=self.timestamp())

    def get_current(self, channel: str) -> str | None:
        with self._db() as db:
            return profiles.get_current(db, channel)

    # -- deployments -------------------------------------------------------------------------

    def upsert_deployment(
        self, cluster: str, name: str, *, profile: str, version: str, channel: str, actor: str
    ) -> Deployment:
        with self._db() as db:
            return deployments.upsert(
                db,
                cluster,
                name,
                at=self.timestamp(),
                profile=profile,
                version=version,
                channel=channel,
                actor=actor,
            )

    def get_deployment(self, cluster: str, name: str) -> Deployment | None:
        with self._db() as db:
            return deployments.get(db, cluster, name)

    def find_deployments(self, name: str) -> list[Deployment]:
        """Deployments called `name` on any cluster (deleted ones included)."""
        with self._db() as db:
            return deployments.find(db, name)

    def list_deployments(self, cluster: str | None = None) -> list[Deployment]:
        """Every deployment (deleted ones included, filter on `status`), by cluster then name."""
        with self._db() as db:
            return deployments.list_all(db, cluster)

    def update_deployment(self, deployment_id: int, **fields: Any) -> Deployment:
        with self._db() as db:
            return deployments.update(db, deployment_id, at=self.timestamp(), fields=fields)

    # -- metrics ---------------------------------------------------------------------------

    def run_counts(self) -> list[tuple[str, str, str, int]]:
        """(kind, cluster, status, how many runs), for /metrics."""
        with self._db() as db:
            rows = db.execute(
                "SELECT kind, cluster, status, COUNT(*) FROM runs GROUP BY kind, cluster, status"
            ).fetchall()
        return [(str(k), str(c), str(s), int(n)) for k, c, s, n in rows]

    def recent_finished_runs(self, limit: int = 1000) -> list[Run]:
        """The newest finished runs (bounded), for the duration histograms of /metrics."""
        with self._db() as db:
            found = runs.with_status(db, ("succeeded", "failed"))
        return [self._opened(r) for r in found[-limit:]]

    # -- secrets at rest -------------------------------------------------------------------

    def clear_secrets(self, catalog: Catalog) -> list[str]:
        """Versions (`name@version`) whose YAML holds a user-given secret value in clear text."""
        found = []
        with self._db() as db:
            rows = db.execute("SELECT name, version, yaml FROM versions ORDER BY id").fetchall()
        for name, version, text in rows:
            if str(text).startswith(sealing.PREFIX):
                continue
            try:
                profile = model.from_yaml(str(text))
            except UserError:
                continue  # an old version that no longer validates holds nothing we can read as a secret
            if secrets.given_values(profile, catalog):
                found.append(f"{name}@{version}")
        return found

    def seal_clear_secrets(self) -> int:
        """Seal every clear version YAML and run plan (after a key was set); returns how many rows."""
        if not self.sealer.enabled:
            return 0
        count = 0
        with self._db() as db, transaction.immediate(db):
            for row_id, text in db.execute("SELECT id, yaml FROM versions").fetchall():
                if not str(text).startswith(sealing.PREFIX):
                    db.execute(
                        "UPDATE versions SET yaml = ? WHERE id = ?", [self.sealer.seal(str(text)), row_id]
                    )
                    count += 1
            for row_id, plan in db.execute("SELECT id, plan FROM runs").fetchall():
                data = json.loads(plan)
                if data and "sealed" not in data:
                    sealed = json.dumps(self._sealed_plan(data))
                    db.execute("UPDATE runs SET plan = ? WHERE id = ?", [sealed, row_id])
                    count += 1
        with self._db() as db:
            # The old pages also live in the write-ahead log until it is checkpointed away.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    # -- runs and approvals ------------------------------------------------------------------

    def _sealed_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        # A plan holds the objects a run applies, a Secret's given values among them.
        if not plan or not self.sealer.enabled:
            return plan
        return {"sealed": self.sealer.seal(json.dumps(plan, sort_keys=True))}

    def _opened(self, run: Run) -> Run:
        sealed = run.plan.get("sealed") if len(run.plan) == 1 else None
        if not isinstance(sealed, str):
            return run
        plan: dict[str, Any] = json.loads(self.sealer.open(sealed))
        return run.model_copy(update={"plan": plan})

    def _opened_or_none(self, run: Run | None) -> Run | None:
        return None if run is None else self._opened(run)

    def create_run(
        self,
        *,
        cluster: str,
        deployment: str,
        profile: str,
        version: str,
        kind: RunKind,
        requested_by: str,
        channel: str,
        fingerprint: str,
        plan: dict[str, Any] | None = None,
        tiers: Sequence[TierState] = (),
        options: dict[str, Any] | None = None,
        status: RunStatus = "queued",
        deployment_id: int | None = None,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        expires_at: str | None = None,
    ) -> Run:
        with self._db() as db:
            return self._opened(
                runs.create(
                    db,
                    at=self.timestamp(),
                    cluster=cluster,
                    deployment=deployment,
                    profile=profile,
                    version=version,
                    kind=kind,
                    requested_by=requested_by,
                    channel=channel,
                    fingerprint=fingerprint,
                    plan=self._sealed_plan(plan or {}),
                    tiers=tiers,
                    options=options or {},
                    status=status,
                    deployment_id=deployment_id,
                    message_ts=message_ts,
                    thread_ts=thread_ts,
                    expires_at=expires_at,
                )
            )

    def get_run(self, run_id: int) -> Run:
        with self._db() as db:
            return self._opened(runs.get(db, run_id))

    def update_run(self, run_id: int, *, only_if_status: Collection[str] | None = None, **fields: Any) -> Run:
        """Change fields of a run (validated as a whole `Run`). With `only_if_status`, the change
        happens only if the run is still in one of those states, else `Conflict` (e.g. an
        approval racing a rejection)."""
        if "plan" in fields:
            fields["plan"] = self._sealed_plan(fields["plan"])
        with self._db() as db:
            return self._opened(
                runs.update(db, run_id, at=self.timestamp(), fields=fields, only_if_status=only_if_status)
            )

    def runs_with_status(self, *statuses: RunStatus) -> list[Run]:
        with self._db() as db:
            return [self._opened(r) for r in runs.with_status(db, statuses)]

    def claim_next_run(self, cluster: str, deployment: str) -> Run | None:
        with self._db() as db:
            return self._opened_or_none(runs.claim_next(db, cluster, deployment, at=self.timestamp()))

    def queue_position(self, run_id: int) -> int:
        with self._db() as db:
            return runs.queue_position(db, run_id)

    def running_run(self, cluster: str, deployment: str) -> Run | None:
        """The run of this deployment that holds its turn (to resume after a restart)."""
        with self._db() as db:
            return self._opened_or_none(runs.running(db, cluster, deployment))

    def latest_run(self, cluster: str, deployment: str) -> Run | None:
        """The newest run of this deployment, whatever its status."""
        with self._db() as db:
            return self._opened_or_none(runs.latest(db, cluster, deployment))

    def pending_approval_run(self, cluster: str, deployment: str) -> Run | None:
        with self._db() as db:
            return self._opened_or_none(runs.pending_approval(db, cluster, deployment))

    def add_approval(self, run_id: int, user: str, decision: Decision, fingerprint: str) -> bool:
        with self._db() as db:
            return runs.add_approval(db, run_id, user, decision, fingerprint, at=self.timestamp())

    def approvals(self, run_id: int) -> list[Approval]:
        with self._db() as db:
            return runs.approvals(db, run_id)

    # -- audit -------------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        channel: str,
        action: str,
        target: str,
        result: str,
        detail: str = "",
        secrets: Iterable[str] = (),
        *,
        profile: str | None = None,
        cluster: str | None = None,
    ) -> None:
        """One audit row. Every text in `secrets` is replaced by `••••••` before it is stored.
        `target` is `name[@version]` or `cluster/deployment`; `profile=`/`cluster=` override
        what the filters of `list_audit` match."""
        with self._db() as db:
            audit.write(
                db,
                at=self.timestamp(),
                actor=actor,
                channel=channel,
                action=action,
                target=target,
                result=result,
                detail=detail,
                secrets=secrets,
                profile=profile,
                cluster=cluster,
            )

    def list_audit(
        self, limit: int = 20, profile: str | None = None, cluster: str | None = None
    ) -> list[AuditEntry]:
        with self._db() as db:
            return audit.entries(db, limit=limit, profile=profile, cluster=cluster)
