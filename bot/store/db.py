"""`Store`: the one object the rest of the app uses to reach its database.

Two backends behind one API: SQLite (the default: a file, or `:memory:`) and PostgreSQL (a
`postgresql://` URL, for several replicas sharing one database). The repositories
(`profiles`, `deployments`, `runs`, `audit`) speak the backend-neutral SQL of bot.store.sql;
each backend module keeps what is its own. Opening a store brings its schema up to date.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from bot.clock import iso
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
from bot.store import applied, audit, deployments, home, profiles, runs, schema, sealing, sql
from bot.store.sqlite import BUSY_TIMEOUT_MS, SqliteBackend

__all__ = ["BUSY_TIMEOUT_MS", "PROCESS_OWNER", "Store", "is_postgres_url", "iso", "store_from_url"]

# Who holds a lease when the caller names nobody: this process, told apart from a restarted
# one with the same pid.
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
DEFAULT_LEASE_SECONDS = 30.0
SEAL_LOCK = "seal"
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_url(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(POSTGRES_URL_PREFIXES)


def store_from_url(
    url_or_path: str | os.PathLike[str],
    *,
    now: Callable[[], float] = time.time,
    sealer: sealing.Sealer | None = None,
    migrate: bool = True,
) -> Store:
    """A `postgresql://` URL opens PostgreSQL; anything else is a SQLite file path (or `:memory:`)."""
    return Store(url_or_path, now=now, sealer=sealer, migrate=migrate)


def _backend(location: str) -> sql.Backend:
    if is_postgres_url(location):
        # Imported here: a SQLite install never loads the PostgreSQL driver.
        from bot.store.postgres import PostgresBackend

        return PostgresBackend(location)
    return SqliteBackend(location)


class Store:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        now: Callable[[], float] = time.time,
        sealer: sealing.Sealer | None = None,
        migrate: bool = True,
    ) -> None:
        self._backend = _backend(str(path))
        # The SQLite file, or the PostgreSQL URL without its password: safe to print.
        self.path = self._backend.location
        self.dialect = "postgresql" if is_postgres_url(path) else "sqlite"
        self._now = now
        # Seals the columns that can hold user-given secrets (see bot.store.sealing).
        self.sealer = sealer or sealing.Sealer(None)
        if migrate:
            self.migrate()

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> contextlib.AbstractContextManager[sql.Connection]:
        return self._backend.connection()

    def migrate(self) -> schema.Migrated:
        """Apply the migrations this database lacks; (version before, version after)."""
        with self._conn() as conn:
            # The wall clock, not the store's: a test's clock must not tick for a migration.
            return schema.migrate(conn, at=iso(time.time()))

    def close(self) -> None:
        """Close this thread's connection (other threads' close when those threads end)."""
        self._backend.close()

    def dispose(self) -> None:
        """Close every connection this store opened that can be closed from this thread (at
        shutdown; on SQLite that is this thread's)."""
        self._backend.dispose()

    @contextlib.contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        """True while this process holds the lock `name` across every replica (for work only
        one may do, such as the start-up sweep); False if another holds it. SQLite: True."""
        with self._backend.singleton(f"singleton:{name}") as held:
            yield held

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
        with self._conn() as db:
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

    def require_sealing(self, what: str) -> None:
        self.sealer.require(what)

    def get_version(self, name: str, version: str | None = None) -> VersionRecord:
        with self._conn() as db:
            return profiles.get_version(db, name, version, sealer=self.sealer)

    def list_profiles(self) -> list[ProfileSummary]:
        with self._conn() as db:
            return profiles.list_profiles(db)

    def list_versions(self, name: str) -> list[VersionRecord]:
        with self._conn() as db:
            return profiles.list_versions(db, name, self.sealer)

    def latest_versions(self) -> dict[str, str]:
        """Every profile's newest version, in one query."""
        with self._conn() as db:
            return profiles.latest_versions(db)

    def latest_version(self, name: str) -> str | None:
        with self._conn() as db:
            return profiles.latest_version(db, name)

    def delete_version(self, name: str, version: str, *, actor: str, channel: str) -> None:
        with self._conn() as db:
            profiles.delete_version(db, name, version, at=self.timestamp(), actor=actor, channel=channel)

    def delete_profile(self, name: str, *, actor: str, channel: str) -> None:
        with self._conn() as db:
            profiles.delete_profile(db, name, at=self.timestamp(), actor=actor, channel=channel)

    def set_current(self, channel: str, name: str) -> None:
        with self._conn() as db:
            profiles.set_current(db, channel, name, at=self.timestamp())

    def get_current(self, channel: str) -> str | None:
        with self._conn() as db:
            return profiles.get_current(db, channel)

    # -- deployments -------------------------------------------------------------------------

    def upsert_deployment(
        self, cluster: str, name: str, *, profile: str, version: str, channel: str, actor: str
    ) -> Deployment:
        with self._conn() as db:
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
        with self._conn() as db:
            return deployments.get(db, cluster, name)

    def find_deployments(self, name: str) -> list[Deployment]:
        """Deployments called `name` on any cluster (deleted ones included)."""
        with self._conn() as db:
            return deployments.find(db, name)

    def list_deployments(self, cluster: str | None = None) -> list[Deployment]:
        """Every deployment (deleted ones included, filter on `status`), by cluster then name."""
        with self._conn() as db:
            return deployments.list_all(db, cluster)

    def drift_key(self) -> bytes:
        return self.sealer.subkey("drift")

    def record_applied_fields(self, deployment_id: int, objects: Mapping[str, Any]) -> None:
        with self._conn() as db:
            applied.record(db, deployment_id, objects)

    def applied_fields(self, deployment_id: int) -> dict[str, Any]:
        with self._conn() as db:
            return applied.of(db, deployment_id)

    def update_deployment(self, deployment_id: int, **fields: Any) -> Deployment:
        with self._conn() as db:
            return deployments.update(db, deployment_id, at=self.timestamp(), fields=fields)

    # -- metrics ---------------------------------------------------------------------------

    def run_counts(self) -> list[tuple[str, str, str, int]]:
        """(kind, cluster, status, how many runs), for /metrics."""
        with self._conn() as db:
            rows = db.query(
                "SELECT kind, cluster, status, COUNT(*) AS n FROM runs GROUP BY kind, cluster, status"
            )
        return [(str(r["kind"]), str(r["cluster"]), str(r["status"]), int(r["n"])) for r in rows]

    def drifted_counts(self) -> list[tuple[str, int]]:
        """(cluster, deployments whose scheduled drift check found drift still there), for /metrics."""
        with self._conn() as db:
            rows = db.query(
                "SELECT cluster, COUNT(*) AS n FROM deployments WHERE drift_seen <> '' AND status <> 'deleted'"
                " GROUP BY cluster"
            )
        return [(str(r["cluster"]), int(r["n"])) for r in rows]

    def recent_finished_runs(self, limit: int = 1000) -> list[Run]:
        """The newest finished runs (bounded), for the duration histograms of /metrics."""
        with self._conn() as db:
            found = runs.with_status(db, ("succeeded", "failed"))
        return [self._opened(r) for r in found[-limit:]]

    # -- secrets at rest -------------------------------------------------------------------

    def clear_secrets(self, catalog: Catalog) -> list[str]:
        """Versions (`name@version`) whose YAML holds a user-given secret value in clear text."""
        found = []
        with self._conn() as db:
            rows = db.query("SELECT name, version, yaml FROM versions ORDER BY id")
        for name, version, text in ((r["name"], r["version"], r["yaml"]) for r in rows):
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
        # Under one lock: two replicas starting with a new key must not seal a row twice.
        with self._conn() as db, db.transaction(SEAL_LOCK):
            for row in db.query("SELECT id, yaml FROM versions ORDER BY id"):
                if not str(row["yaml"]).startswith(sealing.PREFIX):
                    db.update("versions", row["id"], {"yaml": self.sealer.seal(str(row["yaml"]))})
                    count += 1
            for row in db.query("SELECT id, plan FROM runs ORDER BY id"):
                data = json.loads(row["plan"])
                if data and "sealed" not in data:
                    db.update("runs", row["id"], {"plan": json.dumps(self._sealed_plan(data))})
                    count += 1
        with self._conn() as db:
            db.reclaim(("versions", "runs"))
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
        with self._conn() as db:
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
        with self._conn() as db:
            return self._opened(runs.get(db, run_id))

    def update_run(self, run_id: int, *, only_if_status: Collection[str] | None = None, **fields: Any) -> Run:
        """Change fields of a run (validated as a whole `Run`). With `only_if_status`, the change
        happens only if the run is still in one of those states, else `Conflict` (e.g. an
        approval racing a rejection)."""
        if "plan" in fields:
            fields["plan"] = self._sealed_plan(fields["plan"])
        with self._conn() as db:
            return self._opened(
                runs.update(db, run_id, at=self.timestamp(), fields=fields, only_if_status=only_if_status)
            )

    def runs_with_status(self, *statuses: RunStatus) -> list[Run]:
        with self._conn() as db:
            return [self._opened(r) for r in runs.with_status(db, statuses)]

    def claim_next_run(
        self,
        cluster: str,
        deployment: str,
        *,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Run | None:
        """Start the deployment's oldest queued run unless one is running: it becomes running,
        leased to `owner` (this process by default) for `lease_seconds`. None: nothing to start
        now, or another replica is claiming it at this moment."""
        with self._conn() as db:
            claimed = runs.claim_next(
                db,
                cluster,
                deployment,
                at=self.timestamp(),
                owner=owner or PROCESS_OWNER,
                lease_until=self.timestamp(lease_seconds),
            )
        return self._opened_or_none(claimed)

    def renew_lease(self, run_id: int, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> bool:
        """Keep driving a run: False when its lease is no longer `owner`'s (taken over, or the
        run is no longer running), so the owner must stop."""
        with self._conn() as db:
            return runs.renew_lease(db, run_id, owner, lease_until=self.timestamp(lease_seconds))

    def expired_running_runs(self) -> list[Run]:
        """Running runs whose lease ran out (their driver died or hangs), or that never had one."""
        with self._conn() as db:
            return [self._opened(r) for r in runs.expired(db, at=self.timestamp())]

    def take_over(self, run_id: int, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Run | None:
        """Lease a running run whose lease expired to `owner`; of several callers exactly one
        gets the run, the others (and any caller while the lease holds) get None."""
        with self._conn() as db:
            taken = runs.take_over(
                db, run_id, owner, at=self.timestamp(), lease_until=self.timestamp(lease_seconds)
            )
        return self._opened_or_none(taken)

    def queue_position(self, run_id: int) -> int:
        with self._conn() as db:
            return runs.queue_position(db, run_id)

    def running_run(self, cluster: str, deployment: str) -> Run | None:
        """The run of this deployment that holds its turn (to resume after a restart)."""
        with self._conn() as db:
            return self._opened_or_none(runs.running(db, cluster, deployment))

    def latest_runs(self, cluster: str | None = None) -> dict[tuple[str, str], Run]:
        """(cluster, deployment) → its newest run, without the plan, in one query."""
        with self._conn() as db:
            return {(r.cluster, r.deployment): r for r in runs.latest_per_deployment(db, cluster)}

    def latest_run(self, cluster: str, deployment: str) -> Run | None:
        """The newest run of this deployment, whatever its status."""
        with self._conn() as db:
            return self._opened_or_none(runs.latest(db, cluster, deployment))

    def runs_requested_by(self, user: str, *, limit: int) -> list[Run]:
        """The user's newest runs, newest first, whatever their deployment or status."""
        with self._conn() as db:
            found = runs.requested_by(db, user, limit=limit)
        return [self._opened(r) for r in found]

    def pending_approval_run(self, cluster: str, deployment: str) -> Run | None:
        with self._conn() as db:
            return self._opened_or_none(runs.pending_approval(db, cluster, deployment))

    def add_approval(self, run_id: int, user: str, decision: Decision, fingerprint: str) -> bool:
        with self._conn() as db:
            return runs.add_approval(db, run_id, user, decision, fingerprint, at=self.timestamp())

    def approvals(self, run_id: int) -> list[Approval]:
        with self._conn() as db:
            return runs.approvals(db, run_id)

    # -- App Home viewers -----------------------------------------------------------------------

    def home_opened(self, user: str) -> None:
        with self._conn() as db:
            home.opened(db, user, at=self.timestamp())

    def home_viewers(self) -> list[str]:
        with self._conn() as db:
            return home.viewers(db)

    def home_changed(self, user: str, digest: str) -> bool:
        """Record the digest of the view about to be published to `user`; False if it is the one
        they already have (or they never opened the Home)."""
        with self._conn() as db:
            return home.swap_digest(db, user, digest)

    def home_unpublished(self, user: str) -> None:
        with self._conn() as db:
            home.forget_digest(db, user)

    # -- requests already executed (Slack replay protection across replicas) ---------------------

    def first_time(self, key: str, window: float = 330.0) -> bool:
        """True the first time `key` is offered within `window` seconds, by any replica."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._conn() as db, db.transaction():
            db.execute("DELETE FROM seen_requests WHERE at < ?", [self.timestamp(-window)])
            result = db.execute(
                "INSERT INTO seen_requests (digest, at) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING",
                [digest, self.timestamp()],
            )
        return result.rowcount == 1

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
        with self._conn() as db:
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
        self, limit: int = 20, profile: str | None = None, cluster: str | None = None, *, offset: int = 0
    ) -> list[AuditEntry]:
        with self._conn() as db:
            return audit.entries(db, limit=limit, offset=offset, profile=profile, cluster=cluster)
