"""The run loop: requests become runs in the store, queued per (cluster, deployment), claimed in
order and driven one at a time; a restarted bot resumes them.

Several replicas share one store: a claim is a lease (`owner`, renewed every third of
`lease_seconds` while the run is driven). A replica that dies stops renewing; `sweep`, run by
every replica, takes such a run over once its lease expired and finishes it from its last
completed tier, on the same message. A replica that finds its lease taken stops at its next step
without a word (`LeaseLost`)."""

from __future__ import annotations

import logging
import secrets as secrets_mod
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor as PoolExecutor

from bot.core import plan, ports
from bot.core.catalog import Catalog
from bot.core.events import ApprovalChanged, RunFinished, RunQueued, RunStarted
from bot.core.ports import Cluster
from bot.core.readiness import FailFast
from bot.core.records import Deployment, Run, RunKind, TierState, VersionRecord
from bot.core.tickets import DeployTicket
from bot.publisher import Publisher
from bot.runs import failures
from bot.runs.context import LeaseLost, RunContext
from bot.runs.deploy import deploy
from bot.runs.teardown import teardown, teardown_plan, the_live_deployment

log = logging.getLogger("appprofile.executor")


class Executor:
    def __init__(
        self,
        store: ports.Repositories,
        catalog: Catalog,
        connect: Callable[[str], Cluster],
        charts: plan.ChartRenderer,
        publisher: Publisher,
        pool: PoolExecutor,
        *,
        clock: ports.Clock,
        wait_timeout: float = 600.0,
        fail_fast: FailFast | None = None,
        guards: Callable[[str], plan.Guard] | None = None,
        check: plan.SchemaCheck | None = None,
        password: Callable[[], str] | None = None,
        owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.connect = connect
        self.charts = charts
        self.publisher = publisher
        self.clock = clock
        self.pool = pool
        self.wait_timeout = wait_timeout
        # When a pod state that needs a person fails a tier (instead of the wait timeout).
        self.fail_fast = fail_fast or FailFast()
        # The cluster's guardrails, checked again on the fresh plan a run applies.
        self.guards = guards
        # The Kubernetes schema, checked again on each object once its holes are filled.
        self.check = check
        self.password = password or (lambda: secrets_mod.token_urlsafe(18))
        # Who this replica is to the store's leases, and how long a lease lasts unrenewed.
        self.owner = owner or f"replica-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()
        self._active: set[tuple[str, str]] = set()

    # -- requests --------------------------------------------------------------------------

    def request_deploy(
        self,
        user: str,
        channel: str,
        rec: VersionRecord,
        p: plan.Plan,
        sets: Mapping[str, str],
        *,
        kind: RunKind = "deploy",
        awaiting_approval: bool = False,
        expires_in: float | None = None,
        options: Mapping[str, object] | None = None,
    ) -> DeployTicket:
        """`options`: more of the run's options next to `set` (a change window's override)."""
        dep = self._deployment_for(p, rec, channel, user)
        run = self.store.create_run(
            deployment_id=dep.id,
            cluster=p.cluster,
            deployment=p.deployment,
            profile=rec.name,
            version=rec.version,
            kind=kind,
            status="awaiting_approval" if awaiting_approval else "queued",
            requested_by=user,
            channel=channel,
            fingerprint=p.fingerprint,
            plan=p.model_dump(mode="json"),
            tiers=[TierState(name=t.name, state="pending") for t in p.tiers],
            options={**(options or {}), "set": dict(sets)},
            expires_at=self._expires_at(expires_in),
        )
        self.store.audit(
            user, channel, kind, f"{rec.name}@{rec.version} → {p.cluster}/{p.deployment}", "requested"
        )
        position = 0
        if not awaiting_approval:
            position = self.store.queue_position(run.id)
            self._enqueue(run)
        return DeployTicket(
            run_id=run.id, plan=p, queued_position=position, awaiting_approval=awaiting_approval
        )

    def _deployment_for(self, p: plan.Plan, rec: VersionRecord, channel: str, user: str) -> Deployment:
        """The deployment a deploy is for: the live one, else one recorded (again) for it."""
        dep = self.store.get_deployment(p.cluster, p.deployment)
        if dep is None or dep.status == "deleted":
            dep = self.store.upsert_deployment(
                p.cluster, p.deployment, profile=rec.name, version=rec.version, channel=channel, actor=user
            )
        return dep

    def request_delete(
        self,
        user: str,
        channel: str,
        name: str,
        *,
        cluster: str | None = None,
        purge: bool = False,
        awaiting_approval: bool = False,
        expires_in: float | None = None,
    ) -> int:
        dep = the_live_deployment(self.store, name, cluster)
        teardown_as_plan = teardown_plan(dep, purge)
        run = self.store.create_run(
            deployment_id=dep.id,
            cluster=dep.cluster,
            deployment=dep.name,
            profile=dep.profile,
            version=dep.version,
            kind="delete",
            status="awaiting_approval" if awaiting_approval else "queued",
            requested_by=user,
            channel=channel,
            fingerprint=plan.fingerprint({"delete": f"{dep.cluster}/{dep.name}", **teardown_as_plan}),
            plan=teardown_as_plan,
            tiers=[],
            options={"purge": purge},
            expires_at=self._expires_at(expires_in),
        )
        self.store.audit(user, channel, "delete", f"{dep.cluster}/{dep.name}", "requested", f"purge={purge}")
        if not awaiting_approval:
            self._enqueue(run)
        return run.id

    def _expires_at(self, expires_in: float | None) -> str | None:
        return self.clock.timestamp(expires_in) if expires_in is not None else None

    def _enqueue(self, run: Run) -> None:
        # The plan is in the channel before anything runs, and a queued run shows its place.
        self.publisher.publish(RunQueued, run.id)
        self.kick(run.cluster, run.deployment)

    def release(self, run_id: int) -> None:
        """An approved run joins its deployment's queue."""
        run = self.store.update_run(run_id, status="queued")
        self.kick(run.cluster, run.deployment)

    def resume(self, *, alone: bool = False) -> int:
        """At start: take over the runs a dead process left running and start queued ones.
        `alone` (one process per store, SQLite): every running run is a dead process's, taken
        over at once; otherwise only those whose lease expired (`sweep` gets the rest in time).
        Returns how many deployment queues were picked up."""
        running = self.store.runs_with_status("running") if alone else self.store.expired_running_runs()
        taken = [r for r in running if self._take_over(r, force=alone)]
        queued = {(r.cluster, r.deployment) for r in self.store.runs_with_status("queued")}
        for cluster, deployment in sorted(queued - {(r.cluster, r.deployment) for r in taken}):
            self.kick(cluster, deployment)
        return len(queued | {(r.cluster, r.deployment) for r in taken})

    def sweep(self) -> int:
        """Take over runs whose lease expired (their replica died), and start queued runs no
        replica is driving (a claim another replica's lock made fail). Returns runs taken over."""
        taken = [r for r in self.store.expired_running_runs() if self._take_over(r)]
        for run in self.store.runs_with_status("queued"):
            self.kick(run.cluster, run.deployment)
        return len(taken)

    def _take_over(self, run: Run, *, force: bool = False) -> bool:
        key = (run.cluster, run.deployment)
        with self._lock:
            if key in self._active:
                return False
            if force:
                # A SQLite store serves one process: whatever ran before this one is dead.
                self.store.update_run(run.id, lease_owner=None, lease_expires_at=None)
            mine = self.store.take_over(run.id, self.owner, self.lease_seconds)
            if mine is None:
                return False
            self._active.add(key)
        log.info("took over a run", extra={"run_id": run.id, "cluster": run.cluster})
        self.pool.submit(self._drive, key, mine)
        return True

    def kick(self, cluster: str, deployment: str) -> None:
        key = (cluster, deployment)
        with self._lock:
            if key in self._active:
                return  # the driver already running for this key will claim the new run
            self._active.add(key)
        self.pool.submit(self._drive, key)

    # -- driving ---------------------------------------------------------------------------

    def _drive(self, key: tuple[str, str], first: Run | None = None) -> None:
        """Drive the key's runs in order: `first` (taken over), then each one claimed."""
        run = first
        while True:
            if run is None:
                with self._lock:
                    try:
                        run = self.store.claim_next_run(
                            *key, owner=self.owner, lease_seconds=self.lease_seconds
                        )
                    except Exception:
                        self._active.discard(key)
                        log.exception(
                            "claiming a run failed", extra={"cluster": key[0], "deployment": key[1]}
                        )
                        return
                    if run is None:
                        self._active.discard(key)
                        return
            self._execute(run)
            run = None
            # Runs still waiting behind this one moved up: show their new place.
            for waiting in self.store.runs_with_status("queued"):
                if (waiting.cluster, waiting.deployment) == key:
                    self.publisher.publish(RunQueued, waiting.id)

    def _execute(self, run: Run) -> None:
        log.info("run started", extra={"run_id": run.id, "kind": run.kind, "cluster": run.cluster})
        with Heartbeat(self.store, run.id, self.owner, self.lease_seconds) as beat:
            ctx = self._context(beat.holds)
            detail = ""  # a failure's full text, shown with the run's finish (in the message's thread)
            try:
                run = self.publisher.publish(RunStarted, run.id) or run
                if run.kind == "delete":
                    teardown(ctx, run)
                else:
                    deploy(ctx, run)
            except LeaseLost:
                log.warning("another replica took the run over; stopped", extra={"run_id": run.id})
                return
            except Exception as exc:  # every failure ends the run, said as the error tree says it
                detail = failures.fail_with(ctx, run.id, exc)
            self.publisher.publish(RunFinished, run.id, detail=detail)
            if self.store.get_run(run.id).approval_ts:
                self.publisher.publish(ApprovalChanged, run.id)

    def _context(self, holds: Callable[[], bool]) -> RunContext:
        """This executor's ports and settings as they are now, for one run."""
        return RunContext(
            holds=holds,
            store=self.store,
            catalog=self.catalog,
            connect=self.connect,
            charts=self.charts,
            publisher=self.publisher,
            clock=self.clock,
            wait_timeout=self.wait_timeout,
            fail_fast=self.fail_fast,
            guards=self.guards,
            check=self.check,
            password=self.password,
        )


class Heartbeat:
    """Renews a run's lease every third of its length while the run is driven (and at each
    step, through `holds`); `holds` turns False for good once a renewal finds the lease gone
    (taken over after this replica stalled)."""

    def __init__(self, runs: ports.Runs, run_id: int, owner: str, lease_seconds: float) -> None:
        self._runs, self._run_id, self._owner, self._seconds = runs, run_id, owner, lease_seconds
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._seconds)

    def holds(self) -> bool:
        """Asked before each step: renews the lease there and then, so no step starts on a lease
        another replica has taken."""
        if self._lost.is_set():
            return False
        try:
            mine = self._runs.renew_lease(self._run_id, self._owner, self._seconds)
        except Exception:
            return True  # the store is unreachable: the heartbeat keeps trying
        if not mine:
            self._lost.set()
        return mine

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                if not self._runs.renew_lease(self._run_id, self._owner, self._seconds):
                    self._lost.set()
                    return
            except Exception:
                # The store is unreachable: keep trying; the lease may still be ours.
                log.warning("renewing a run's lease failed", extra={"run_id": self._run_id}, exc_info=True)
