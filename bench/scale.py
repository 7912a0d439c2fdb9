"""Scale: reads over 10,000 deployments and 100,000 audit rows, and 50 concurrent deploys on 2 replicas.

Part 1, on SQLite (a temp file) and on PostgreSQL (a throw-away server, `tests.postgres`): the
store holds 10,000 deployments over 100 clusters, 2 runs each, and 100,000 audit rows. They are
copies of what the bot itself wrote for one real deploy and redeploy of the 3-tier counter app
(`bench.rig.build_bot` against the Kubernetes emulator; APPPROFILE_SECRET_KEY set, so each run's
~15 kB plan is sealed): the template rows are read back, names and clusters changed (plans opened,
renamed and sealed again), and bulk-inserted (one SQLite transaction; PostgreSQL COPY, then VACUUM
ANALYZE and CHECKPOINT as autovacuum and the checkpointer would). A sample is read back through
`Store` and must equal the template records under their new names (audit rows: the rows inserted).
Ours: `Store.list_deployments()` (the list `deployments` renders), `list_deployments(cluster)`,
`get_deployment` + `latest_run` (what `status NAME on CLUSTER` reads, the plan decrypted),
`list_audit(limit=20)` and `list_audit(limit=20, cluster=…)`. Baseline: a plain sqlite3 / psycopg
connection to the same database running the SELECT that returns the same rows, `fetchall()`.
Each call is timed on its own, ours and raw alternating, the same random targets on both sides;
the figure is the p99 (of 15 calls for the 10,000-row list: its maximum). The `deployments`
command also reads each deployment's latest run and latest version (one query each), timed in
the note next to what they cost one deployment at a time.

Part 2 (PostgreSQL only): two `appprofile serve` subprocesses (HTTP mode, waitress on loopback)
on one database, one fake Slack, one Kubernetes emulator (ready after 0.2 s). The ack p99 of 50
signed `/appprofile list` on the idle bots (each reply awaited) is the baseline for the ack p99 of
50 `/appprofile deploy small to dev-cluster as small-NN` (a 1-tier redis profile) sent back to
back, alternating between the replicas, without waiting for anything but each HTTP response.
Then every run must have run exactly once: one run per deployment, all succeeded, one chat.update
showing Succeeded per progress message, each run id in exactly one replica's "run started" log.

App Home publishes per deploy are measured in `slack_calls` (20 Homes open).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from cryptography.fernet import Fernet

from bench import rig
from bench.common import PROFILES, ROOT, Figure, fmt, helm_binary, percentile
from bot.core import model
from bot.core.records import Deployment, Run
from bot.slack import serve
from bot.store.db import Store, iso
from bot.store.sealing import Sealer

DEPLOYMENTS = 10_000
CLUSTERS = 100
AUDIT_ROWS = 100_000
GOAL_READS = 2.0
GOAL_ACK = 1.3
REPLICA_DEPLOYS = 50
LIST_REQUESTS = 50
TEMPLATE_NAME = "tmpl-app"  # the template deployment, renamed in every copy
TEMPLATE_CLUSTER = rig.CLUSTER
TERMINAL = set(rig.TERMINAL)
ALL_STATUSES = ("queued", "awaiting_approval", "running", *rig.TERMINAL)
SMALL = "name: small\ntiers:\n  - name: cache\n    type: redis\n"
READ_LABELS = (
    "deployments (10k)",
    "deployments CLUSTER",
    "status NAME on C",
    "audit 20",
    "audit 20 --cluster",
)
ACK_LABEL = f"ack p99 deploy ×{REPLICA_DEPLOYS}, 2 replicas"
ONCE_LABEL = f"runs started per deploy ×{REPLICA_DEPLOYS}"

_DEP_COLS = (
    "id, cluster, name, profile, version, status, last_good_version, channel, message_ts, created_by,"
    " updated_at, outputs, inventory"
)
_RUN_COLS = (
    "id, deployment_id, cluster, deployment, profile, version, kind, status, requested_by, channel,"
    " message_ts, thread_ts, fingerprint, plan, tiers, next_tier, error, options, created_at, updated_at,"
    " expires_at, approval_ts, lease_owner, lease_expires_at"
)
_AUDIT_COLS = "id, at, actor, channel, action, target, result, detail"
# The rows each Store call returns, as plain SQL (`?` placeholders; `%s` on PostgreSQL).
SQL_ALL = f"SELECT {_DEP_COLS} FROM deployments WHERE 1 = 1 ORDER BY cluster, name"
SQL_CLUSTER = f"SELECT {_DEP_COLS} FROM deployments WHERE cluster = ? ORDER BY cluster, name"
SQL_ONE = f"SELECT {_DEP_COLS} FROM deployments WHERE cluster = ? AND name = ? ORDER BY cluster, name"
SQL_LATEST_RUN = f"SELECT {_RUN_COLS} FROM runs WHERE cluster = ? AND deployment = ? ORDER BY id DESC LIMIT 1"
SQL_AUDIT = f"SELECT {_AUDIT_COLS} FROM audit ORDER BY id DESC LIMIT ?"
SQL_AUDIT_CLUSTER = f"SELECT {_AUDIT_COLS} FROM audit WHERE cluster = ? ORDER BY id DESC LIMIT ?"


def cluster_name(i: int) -> str:
    return f"cluster-{i:03d}"


def deployment_name(i: int) -> str:
    return f"app-{i:03d}"


# -- the template: what the bot itself writes for a deploy and a redeploy ------------------------


@dataclass
class Template:
    sealer: Sealer
    profile: model.Profile
    deployment: dict[str, Any]  # the row as stored
    runs: list[dict[str, Any]]  # oldest first
    plans: list[str]  # each run's plan, opened (JSON text)
    audit: list[dict[str, Any]]  # the deploy's audit rows (not the profile import)
    records: tuple[Deployment, Run]  # the deployment and its latest run, read through the Store
    seconds: float = 0.0


def make_template() -> Template:
    start = time.perf_counter()
    with rig.fake_slack() as fake, rig.workdir() as tmp, rig.sim_cluster(0.2) as sim:
        bot = rig.build_bot(fake, tmp, kube_url=sim.url)
        try:
            profile = model.from_yaml((PROFILES / "counter-app.yaml").read_text())
            bot.store.create_version(profile, actor=rig.USER, channel=rig.CHANNEL, kind="import")
            with rig.served(serve.make_wsgi(bot.app)) as port:
                sender = rig.Sender(port, fake)
                for _ in range(2):  # a deploy and a redeploy: two runs
                    rig.deploy(
                        bot,
                        sender,
                        f"deploy counter-app to {TEMPLATE_CLUSTER} as {TEMPLATE_NAME}",
                        TEMPLATE_NAME,
                    )
            dep = bot.store.get_deployment(TEMPLATE_CLUSTER, TEMPLATE_NAME)
            run = bot.store.latest_run(TEMPLATE_CLUSTER, TEMPLATE_NAME)
            sealer = bot.store.sealer
        finally:
            bot.stop.set()
        raw = sqlite3.connect(tmp / "appprofile.db")
        try:
            raw.row_factory = sqlite3.Row
            deps = [dict(r) for r in raw.execute("SELECT * FROM deployments")]
            runs = [dict(r) for r in raw.execute("SELECT * FROM runs ORDER BY id")]
            audit = [
                dict(r) for r in raw.execute("SELECT * FROM audit WHERE cluster IS NOT NULL ORDER BY id")
            ]
        finally:
            raw.close()
    if len(deps) != 1 or len(runs) != 2 or not audit or dep is None or run is None:
        raise RuntimeError(f"the template deploy left {len(deps)} deployments, {len(runs)} runs")
    if not sealer.enabled:
        raise RuntimeError("the composed bot does not seal run plans (APPPROFILE_SECRET_KEY)")
    plans = [sealer.open(json.loads(r["plan"])["sealed"]) for r in runs]
    return Template(sealer, profile, deps[0], runs, plans, audit, (dep, run), time.perf_counter() - start)


def _renamed(value: Any, cluster: str, name: str) -> Any:
    if isinstance(value, str):
        return value.replace(TEMPLATE_CLUSTER, cluster).replace(TEMPLATE_NAME, name)
    if isinstance(value, dict):
        return {k: _renamed(v, cluster, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, cluster, name) for v in value]
    return value


def _run_id(generation: int, i: int) -> int:
    # All first runs, then all redeploys: ids grow in time order as they would.
    return generation * DEPLOYMENTS + i + 1


def _message_ts(run_id: int) -> str:
    return f"1700000000.{run_id:06d}"


@dataclass
class Rows:
    """Every row to insert, per table: (columns, rows). Built once, inserted into each backend."""

    tables: dict[str, tuple[list[str], list[list[Any]]]] = field(default_factory=dict)
    seconds: float = 0.0


def _named_columns(row: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """The columns whose text names the template deployment or cluster (renamed in each copy)."""
    return [
        c
        for c in columns
        if isinstance(row[c], str) and (TEMPLATE_NAME in row[c] or TEMPLATE_CLUSTER in row[c])
    ]


def _sealed_plan(sealer: Sealer, plan: str) -> str:
    # What json.dumps({"sealed": token}) gives, as the Store writes it: a Fernet token is
    # URL-safe base64 after its prefix, nothing to escape (build_rows checks the first one).
    return '{"sealed": "' + sealer.seal(plan) + '"}'


def build_rows(t: Template) -> Rows:
    start = time.perf_counter()
    out = Rows()
    dcols, rcols = list(t.deployment), list(t.runs[0])
    acols = [c for c in t.audit[0] if c != "id"]
    dnamed = _named_columns(t.deployment, dcols)
    rnamed = [[c for c in _named_columns(r, rcols) if c != "plan"] for r in t.runs]
    drows: list[list[Any]] = []
    rrows: list[list[Any]] = [[] for _ in t.runs]
    for i in range(DEPLOYMENTS):
        cluster, name = cluster_name(i % CLUSTERS), deployment_name(i // CLUSTERS)
        dep = {**t.deployment, "id": i + 1}
        dep.update({c: _renamed(t.deployment[c], cluster, name) for c in dnamed})
        drows.append([dep[c] for c in dcols])
        for gen, (row, plan) in enumerate(zip(t.runs, t.plans, strict=True)):
            run_id = _run_id(gen, i)
            values = {**row, "id": run_id, "deployment_id": i + 1, "message_ts": _message_ts(run_id)}
            values.update({c: _renamed(row[c], cluster, name) for c in rnamed[gen]})
            values["plan"] = _sealed_plan(t.sealer, _renamed(plan, cluster, name))
            rrows[gen].append([values[c] for c in rcols])
    anamed = [_named_columns(r, acols) for r in t.audit]
    arows = []
    base = time.time() - AUDIT_ROWS
    for k in range(AUDIT_ROWS - 1):  # the profile's import row makes 100,000
        i = k % DEPLOYMENTS
        cluster, name = cluster_name(i % CLUSTERS), deployment_name(i // CLUSTERS)
        which = (k // DEPLOYMENTS) % len(t.audit)
        row = t.audit[which]
        values = {**row, "at": iso(base + k)}
        values.update({c: _renamed(row[c], cluster, name) for c in anamed[which]})
        arows.append([values[c] for c in acols])
    first = rrows[0][0][rcols.index("plan")]
    if json.dumps(json.loads(first)) != first:
        raise RuntimeError("a sealed plan is not written as the Store writes it")
    out.tables = {
        "deployments": (dcols, drows),
        "runs": (rcols, [r for gen in rrows for r in gen]),
        "audit": (acols, arows),
    }
    out.seconds = time.perf_counter() - start
    return out


def insert_sqlite(path: str, rows: Rows) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        for table, (cols, values) in rows.tables.items():
            marks = ", ".join("?" for _ in cols)
            raw.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
        raw.execute("COMMIT")
    finally:
        raw.close()


def insert_postgres(url: str, rows: Rows) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as raw:
        with raw.transaction(), raw.cursor() as cur:
            for table, (cols, values) in rows.tables.items():
                # A sealed plan (20 kB of base64) never compresses: pglz tries for long, lz4 gives
                # up sooner; either way it is stored as is (checked below). Other columns: as the
                # bot's own writes store them.
                lz4 = table == "runs" and _try(cur, "SET LOCAL default_toast_compression = 'lz4'")
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
                if lz4:
                    cur.execute("SET LOCAL default_toast_compression = 'pglz'")
        compressed = raw.execute("SELECT COUNT(*) FROM runs WHERE pg_column_compression(plan) IS NOT NULL")
        if (compressed.fetchone() or [1])[0]:
            raise RuntimeError("seeded run plans were stored compressed, unlike the bot's")
        for table in rows.tables:
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        # What autovacuum and the checkpointer do soon after a load: a live database has
        # statistics, and no 500 MB of dirty pages being flushed while it is measured.
        raw.execute("VACUUM (ANALYZE)")
        raw.execute("CHECKPOINT")


def _try(cur: Any, statement: str) -> bool:
    import psycopg

    try:
        with cur.connection.transaction():  # a savepoint: a refused SET leaves the COPY's transaction usable
            cur.execute(statement)
    except psycopg.Error:
        return False
    return True


def check_seeded(store: Store, t: Template, rows: Rows, count: Callable[[str], int]) -> None:
    """A sample of copies, read through the Store, equals the template records renamed, and the
    newest audit rows of a cluster are the rows inserted last for it."""
    dep, run = t.records
    rng = random.Random(5)
    sample = [0, DEPLOYMENTS - 1, *rng.sample(range(DEPLOYMENTS), 8)]
    acols, arows = rows.tables["audit"]
    by_cluster: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    wanted = {cluster_name(i % CLUSTERS) for i in sample}
    at = acols.index("cluster")
    for k, row in enumerate(arows):
        if row[at] in wanted:  # ids: 1 is the profile's import row, then in insertion order
            by_cluster[row[at]].append({"id": k + 2, **dict(zip(acols, row, strict=True))})
    for i in sample:
        cluster, name = cluster_name(i % CLUSTERS), deployment_name(i // CLUSTERS)
        got = store.get_deployment(cluster, name)
        want = _renamed({**dep.model_dump(mode="json"), "id": i + 1}, cluster, name)
        if got is None or got.model_dump(mode="json") != want:
            raise RuntimeError(f"seeded deployment {cluster}/{name} does not read back as written")
        latest = store.latest_run(cluster, name)
        run_id = _run_id(len(t.runs) - 1, i)
        want_run = _renamed(run.model_dump(mode="json"), cluster, name)
        want_run.update(id=run_id, deployment_id=i + 1, message_ts=_message_ts(run_id))
        if latest is None or latest.model_dump(mode="json") != want_run:
            raise RuntimeError(f"the seeded latest run of {cluster}/{name} does not read back as written")
        fields = ("id", "at", "actor", "channel", "action", "target", "result", "detail")
        entries = [e.model_dump(mode="json") for e in store.list_audit(limit=3, cluster=cluster)]
        if entries != [{f: r[f] for f in fields} for r in reversed(by_cluster[cluster][-3:])]:
            raise RuntimeError(f"the seeded audit of {cluster} does not read back as written")
    counts = {table: count(table) for table in ("deployments", "runs", "audit")}
    if counts != {"deployments": DEPLOYMENTS, "runs": DEPLOYMENTS * len(t.runs), "audit": AUDIT_ROWS}:
        raise RuntimeError(f"the seeded store holds {counts}")
    if len(store.list_deployments(cluster_name(7))) != DEPLOYMENTS // CLUSTERS:
        raise RuntimeError("a cluster does not hold its 100 deployments")


# -- part 1: reads at scale, per backend ---------------------------------------------------------


def timed_pair(
    ours: Callable[..., Any], raw: Callable[..., Any], args: Sequence[tuple[Any, ...]], samples: int
) -> tuple[list[float], list[float]]:
    """Per-call seconds of each, alternating which goes first; 10 % warm-up calls untimed."""
    times: tuple[list[float], list[float]] = ([], [])
    warmup = max(2, samples // 10)
    for n in range(warmup + samples):
        a = args[n % len(args)]
        for k in (0, 1) if n % 2 == 0 else (1, 0):
            fn = ours if k == 0 else raw
            start = time.perf_counter()
            fn(*a)
            elapsed = time.perf_counter() - start
            if n >= warmup:
                times[k].append(elapsed)
    return times


@dataclass
class Backend:
    label: str  # "sqlite" or "postgres"
    location: str  # the file, or the URL
    fetch: Callable[[str, Sequence[Any]], list[Any]]  # raw SQL, fetchall
    close: Callable[[], None]


@contextlib.contextmanager
def sqlite_backend(path: str) -> Iterator[Backend]:
    raw = sqlite3.connect(path)
    try:
        yield Backend("sqlite", path, lambda q, p: raw.execute(q, list(p)).fetchall(), raw.close)
    finally:
        raw.close()


@contextlib.contextmanager
def postgres_backend(url: str) -> Iterator[Backend]:
    import psycopg

    raw = psycopg.connect(url, autocommit=True)
    try:

        def fetch(q: str, p: Sequence[Any]) -> list[Any]:
            return raw.execute(q.replace("?", "%s"), list(p)).fetchall()

        yield Backend("postgres", url, fetch, raw.close)
    finally:
        raw.close()


def reads(backend: Backend, t: Template, rows: Rows, insert: Callable[[str, Rows], None]) -> list[Figure]:
    start = time.perf_counter()
    store = Store(backend.location, sealer=t.sealer)
    try:
        store.create_version(t.profile, actor=rig.USER, channel=rig.CHANNEL, kind="import")
        insert(backend.location, rows)
        check_seeded(
            store, t, rows, lambda table: int(backend.fetch(f"SELECT COUNT(*) FROM {table}", [])[0][0])
        )
        seeded = time.perf_counter() - start
        return _read_figures(backend, store, seeded)
    finally:
        store.dispose()


def _read_figures(b: Backend, store: Store, seeded: float) -> list[Figure]:
    fetch = b.fetch
    rng = random.Random(11)
    targets = [
        (cluster_name(rng.randrange(CLUSTERS)), deployment_name(rng.randrange(100))) for _ in range(512)
    ]
    clusters = [(c,) for c, _ in targets]

    def same_deps(got: list[Deployment], raw: list[Any]) -> bool:
        return [(d.id, d.cluster, d.name) for d in got] == [tuple(r[:3]) for r in raw]

    def status_ours(c: str, n: str) -> tuple[Deployment | None, Run | None]:
        return store.get_deployment(c, n), store.latest_run(c, n)

    def status_raw(c: str, n: str) -> tuple[list[Any], list[Any]]:
        return fetch(SQL_ONE, [c, n]), fetch(SQL_LATEST_RUN, [c, n])

    c0, n0 = targets[0]
    (dep, run), (dep_rows, run_rows) = status_ours(c0, n0), status_raw(c0, n0)
    checks = {
        "all": same_deps(store.list_deployments(), fetch(SQL_ALL, [])),
        "cluster": same_deps(store.list_deployments(c0), fetch(SQL_CLUSTER, [c0])),
        "status": dep is not None
        and run is not None
        and [(dep.id, run.id)] == [(d[0], r[0]) for d, r in zip(dep_rows, run_rows, strict=True)],
        "audit": [e.id for e in store.list_audit(limit=20)] == [r[0] for r in fetch(SQL_AUDIT, [20])],
        "audit cluster": [e.id for e in store.list_audit(limit=20, cluster=c0)]
        == [r[0] for r in fetch(SQL_AUDIT_CLUSTER, [c0, 20])],
    }
    if not all(checks.values()):
        raise RuntimeError(f"{b.label}: the store and the raw query disagree: {checks}")

    cases: list[tuple[str, Callable[..., Any], Callable[..., Any], list[tuple[Any, ...]], int, str]] = [
        (
            "deployments (10k)",
            lambda: store.list_deployments(),
            lambda: fetch(SQL_ALL, []),
            [()],
            15,
            "Store.list_deployments(): 10,000 records",
        ),
        (
            "deployments CLUSTER",
            store.list_deployments,
            lambda c: fetch(SQL_CLUSTER, [c]),
            clusters,
            300,
            "Store.list_deployments(cluster): 100 records",
        ),
        (
            "status NAME on C",
            status_ours,
            status_raw,
            targets,
            1000,
            "get_deployment + latest_run (the plan decrypted) vs SELECT … and SELECT … ORDER BY id DESC LIMIT 1",
        ),
        (
            "audit 20",
            lambda: store.list_audit(limit=20),
            lambda: fetch(SQL_AUDIT, [20]),
            [()],
            1500,
            "Store.list_audit(limit=20) of 100,000 rows",
        ),
        (
            "audit 20 --cluster",
            lambda c: store.list_audit(limit=20, cluster=c),
            lambda c: fetch(SQL_AUDIT_CLUSTER, [c, 20]),
            clusters,
            1500,
            "Store.list_audit(limit=20, cluster=C): 1,000 rows per cluster",
        ),
    ]
    figures = []
    first: tuple[list[float], list[float]] = ([], [])
    for label, ours, raw, args, samples, what in cases:
        t_ours, t_raw = timed_pair(ours, raw, args, samples)
        first = first if first[0] else (t_ours, t_raw)
        p50 = f"p50 {fmt(percentile(t_ours, 50), 's')} vs {fmt(percentile(t_raw, 50), 's')}"
        figures.append(
            Figure(
                f"{b.label} {label}",
                percentile(t_ours, 99),
                percentile(t_raw, 99),
                "s",
                GOAL_READS,
                f"p99 of {samples} calls each; {what}; {p50}",
            )
        )
    p50_list = percentile(first[0], 50)
    figures[0].note = f"seeded and checked in {seeded:.1f} s; " + _deployments_command(store, p50_list)
    return figures


def _deployments_command(store: Store, listing: float) -> str:
    """What the `deployments` command reads besides the list: every deployment's latest run and
    every profile's latest version, one query each (`Store.latest_runs`, `Store.latest_versions`),
    next to what the same reads cost one deployment at a time (timed on 500, scaled to 10,000)."""
    deps = store.list_deployments()
    start = time.perf_counter()
    runs, versions = store.latest_runs(), store.latest_versions()
    joined = time.perf_counter() - start
    if len(runs) != len(deps) or not versions:
        raise RuntimeError(f"latest_runs found {len(runs)} of {len(deps)} deployments' runs")
    sample = random.Random(2).sample(deps, 500)
    start = time.perf_counter()
    for d in sample:
        store.latest_run(d.cluster, d.name)
        store.latest_version(d.profile)
    per = (time.perf_counter() - start) / len(sample)
    return (
        f"the `deployments` command also reads each deployment's latest run and latest version: "
        f"2 queries, {fmt(joined, 's')} (≈ {fmt(listing + joined, 's')} in all at 10k); one "
        f"deployment at a time that was {2 * len(deps):,} queries, ≈ {fmt(per * len(deps), 's')}"
    )


# -- part 2: 50 concurrent deploys over two replicas --------------------------------------------


class Replica:
    """`appprofile serve` as a subprocess in HTTP mode (waitress on 127.0.0.1), logging JSON lines."""

    def __init__(self, tmp: Path, index: int, env: dict[str, str]) -> None:
        self.index = index
        self.port = free_port()
        self.log = tmp / f"replica-{index}.log"
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1", "HOME": str(tmp)}
        self.env["APPPROFILE_DB"] = str(tmp / f"unused-{index}.db")  # the URL wins
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> None:
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=self.env,
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.index} exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"replica {self.index} did not answer /healthz in {timeout:g} s: {self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._out is not None:
            self._out.close()
            self._out = None

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def owner(self) -> str:
        for line in self.lines():
            m = re.search(r"replica (replica-[0-9a-f]+) resumed", str(line.get("msg", "")))
            if m:
                return m.group(1)
        raise RuntimeError(f"replica {self.index} never said who it is: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def replica_env(tmp: Path, fake: Any, kube_url: str, url: str, key: str) -> dict[str, str]:
    kubeconfig = tmp / "kubeconfig.yaml"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": rig.CONTEXT, "cluster": {"server": kube_url}}],
                "users": [{"name": "bench", "user": {"token": "bench-not-a-secret"}}],
                "contexts": [{"name": rig.CONTEXT, "context": {"cluster": rig.CONTEXT, "user": "bench"}}],
                "current-context": rig.CONTEXT,
            }
        )
    )
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump({"clusters": {rig.CLUSTER: {"context": rig.CONTEXT}}}))
    return {
        "PATH": os.environ.get("PATH", ""),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": rig.SECRET,
        "SLACK_API_URL": fake.base_url,
        "APPPROFILE_DATABASE_URL": url,
        "APPPROFILE_CONFIG": str(config),
        "APPPROFILE_SECRET_KEY": key,
        "APPPROFILE_WAIT_TIMEOUT": "60",
        "KUBECONFIG": str(kubeconfig),
        "HELM_BIN": helm_binary() or "helm",
    }


def replicas(url: str) -> list[Figure]:
    key = Fernet.generate_key().decode()
    with (
        rig.fake_slack() as fake,
        rig.workdir() as tmp,
        rig.sim_cluster(0.2) as sim,
    ):
        env = replica_env(tmp, fake, sim.url, url, key)
        bots = [Replica(tmp, i, env) for i in (1, 2)]
        try:
            begun = time.perf_counter()
            for bot in bots:
                bot.start()
            for bot in bots:
                bot.wait_ready()
            started = time.perf_counter() - begun
            return _drive_replicas(bots, fake, url, key, started)
        finally:
            for bot in bots:
                bot.stop()


class Client:
    """`bench.slack_client` in its own process: sends signed commands, times each ack there."""

    def __init__(self, fake: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.slack_client", fake.base_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _ask(self, question: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(question) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Slack client exited with {self.proc.poll()}")
        return json.loads(line)

    def command(self, port: int, text: str) -> tuple[float, int, str]:
        got = self._ask({"port": port, "text": text})
        return float(got["seconds"]), int(got["status"]), str(got["hook"])

    def burst(self, commands: Sequence[tuple[int, str]]) -> list[tuple[float, int, str]]:
        got = self._ask({"burst": [list(c) for c in commands]})
        return [(float(g["seconds"]), int(g["status"]), str(g["hook"])) for g in got]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _answer(fake: Any, hook: str, timeout: float = 20.0) -> str:
    return rig.text_of(fake.wait_for("webhook", lambda c: c.path == f"/webhook/{hook}", timeout))


def _drive_replicas(bots: list[Replica], fake: Any, url: str, key: str, started: float) -> list[Figure]:
    client = Client(fake)
    try:
        return _measure_replicas(bots, client, fake, url, key, started)
    finally:
        client.close()


def _measure_replicas(
    bots: list[Replica], client: Client, fake: Any, url: str, key: str, started: float
) -> list[Figure]:
    ports = [b.port for b in bots]
    since = len(fake.calls)
    _, status, _ = client.command(ports[0], f"create ```{SMALL}```")
    if status != 200:
        raise RuntimeError(f"create answered HTTP {status}")
    fake.wait_for("chat.postMessage", lambda c: "small@1.0.0" in rig.text_of(c), 30, since=since)

    # Baseline: `list` on the idle bots, each reply awaited (untimed) before the next request.
    idle: list[float] = []
    for n in range(10 + LIST_REQUESTS):
        elapsed, status, hook = client.command(ports[n % 2], "list")
        if status != 200:
            raise RuntimeError(f"list answered HTTP {status}")
        if "App Profiles (1)" not in _answer(fake, hook):
            raise RuntimeError("unexpected list reply")
        if n >= 10:  # the first 5 per replica warm it up
            idle.append(elapsed)

    # 50 deploys back to back, alternating, nothing awaited but each HTTP response.
    names = [f"small-{i:02d}" for i in range(REPLICA_DEPLOYS)]
    burst = time.perf_counter()
    sent = client.burst(
        [(ports[i % 2], f"deploy small to {rig.CLUSTER} as {n}") for i, n in enumerate(names)]
    )
    burst = time.perf_counter() - burst
    refused = [f"{n}: HTTP {status}" for n, (_, status, _) in zip(names, sent, strict=True) if status != 200]
    if refused:
        raise RuntimeError(f"deploys refused: {refused}")
    acks = [seconds for seconds, _, _ in sent]

    store = Store(url, sealer=Sealer(key), migrate=False)
    try:
        ended, runs = _wait_for_runs(store, names, timeout=150)
        problems, per_replica, succeeded_ok = _exactly_once(store, bots, fake, names, runs)
    finally:
        store.dispose()
    starts = sum(per_replica.values())
    drove = ", ".join(f"replica {i} drove {n}" for i, n in per_replica.items())
    what = (
        f"two `appprofile serve` subprocesses on one PostgreSQL (up in {started:.1f} s), acks timed by "
        f"a client process; {REPLICA_DEPLOYS} deploys sent in {burst:.2f} s, alternating; "
        f"deploy ack p50 {fmt(percentile(acks, 50), 's')} / max {fmt(max(acks), 's')}, "
        f"idle list ack p50 {fmt(percentile(idle, 50), 's')}; all runs ended {ended:.1f} s after the last ack"
    )
    once_what = (
        f"{drove}; runs per deployment, all succeeded, Succeeded drawn once on "
        f"{succeeded_ok}/{len(names)} progress messages, no run id in both replicas' 'run started'"
    )
    return [
        Figure(
            ACK_LABEL,
            percentile(acks, 99),
            percentile(idle, 99),
            "s",
            GOAL_ACK,
            what,
            "baseline: ack p99 of 50 `/appprofile list` on the idle replicas",
        ),
        Figure(
            ONCE_LABEL,
            None if problems else float(starts),
            float(len(names)),
            "runs",
            1.0,
            once_what,
            ("NOT EXACTLY ONCE: " + "; ".join(problems[:8])) if problems else "",
        ),
    ]


def _wait_for_runs(store: Store, names: list[str], *, timeout: float) -> tuple[float, dict[str, Run]]:
    """(seconds until every deployment's run had ended, the runs); bounded by `timeout`."""
    begun = time.perf_counter()
    end = time.monotonic() + timeout
    runs: dict[str, Run] = {}
    while time.monotonic() < end:
        runs = {n: r for n in names if (r := store.latest_run(rig.CLUSTER, n)) is not None}
        if len(runs) == len(names) and all(r.status in TERMINAL for r in runs.values()):
            return time.perf_counter() - begun, runs
        time.sleep(0.25)
    waiting = sorted(n for n in names if n not in runs or runs[n].status not in TERMINAL)
    raise TimeoutError(f"{len(waiting)} runs had not ended after {timeout:g} s: {waiting[:10]}")


def _exactly_once(
    store: Store, bots: list[Replica], fake: Any, names: list[str], latest: dict[str, Run]
) -> tuple[list[str], dict[int, int], int]:
    problems: list[str] = []
    every = [r for r in store.runs_with_status(*ALL_STATUSES) if r.deployment in set(names)]
    per_dep = collections.Counter(r.deployment for r in every)
    problems += [f"{n} has {per_dep[n]} runs" for n in names if per_dep[n] != 1]
    problems += [f"{r.deployment} run #{r.id} {r.status}" for r in every if r.status != "succeeded"]
    ids = {r.id for r in every}
    # The final redraw follows the run's last store write: wait (bounded) for each, then settle.
    stamps = {r.id: r.message_ts for r in every}
    problems += [f"run #{i} has no progress message" for i, ts in stamps.items() if not ts]
    if len(set(stamps.values())) != len(stamps):
        problems.append("two runs share a progress message")

    def succeeded_counts() -> collections.Counter[str]:
        return collections.Counter(
            str(c.params.get("ts"))
            for c in fake.calls_to("chat.update")
            if c.params.get("ts") in set(stamps.values()) and "Succeeded" in rig.text_of(c)
        )

    end = time.monotonic() + 20
    while time.monotonic() < end and len(succeeded_counts()) < len(stamps):
        time.sleep(0.2)
    time.sleep(2.5)  # longer than the redraw interval: a second Succeeded would have come by now
    counts = succeeded_counts()
    bad = {i: counts.get(str(ts), 0) for i, ts in stamps.items() if counts.get(str(ts), 0) != 1}
    problems += [f"run #{i}: Succeeded drawn {n} times" for i, n in bad.items()]
    # Who started what: every run id in exactly one replica's log, exactly once.
    started: dict[int, collections.Counter[int]] = {}
    for bot in bots:
        started[bot.index] = collections.Counter(
            int(line["run_id"])
            for line in bot.lines()
            if line.get("msg") == "run started" and "run_id" in line
        )
        took = [line for line in bot.lines() if line.get("msg") == "took over a run"]
        problems += [f"replica {bot.index} took over run #{line.get('run_id')}" for line in took]
    for run_id in ids:
        seen = {i: c[run_id] for i, c in started.items() if c[run_id]}
        if sum(seen.values()) != 1:
            problems.append(f"run #{run_id} started {seen or 'never'} (replica: times)")
    owners = {bot.owner(): bot.index for bot in bots}
    for r in latest.values():
        driver = owners.get(r.lease_owner or "")
        if driver is None or started[driver][r.id] != 1:
            problems.append(f"run #{r.id} leased to {r.lease_owner}, not to the replica that started it")
    per_replica = {i: sum(c[run_id] for run_id in ids) for i, c in started.items()}
    return problems, per_replica, len(stamps) - len(bad)


# -- the figure --------------------------------------------------------------------------------


def start_postgres() -> tuple[Any, str]:
    """(server, "") or (None, why not): the throw-away server the tests use."""
    try:
        from tests import postgres
    except ImportError as exc:
        return None, f"tests.postgres cannot be imported ({exc})"
    try:
        return postgres._start(), ""
    except postgres.Unavailable as exc:
        return None, str(exc)


def run() -> list[Figure]:
    figures: list[Figure] = []
    template = make_template()
    try:
        return _run(template, figures)
    finally:
        gc.unfreeze()


def _run(template: Template, figures: list[Figure]) -> list[Figure]:
    rows = build_rows(template)
    # The seed rows stay in memory for both backends: keep the collector from walking them on
    # every full collection, which would land on whichever call (ours or raw) triggers it.
    gc.collect()
    gc.freeze()
    print(
        f"  template: a deploy and a redeploy of counter-app by the composed bot ({template.seconds:.1f} s); "
        f"{DEPLOYMENTS:,} deployments × {len(template.runs)} runs and {AUDIT_ROWS:,} audit rows copied "
        f"from it ({rows.seconds:.1f} s)",
        flush=True,
    )
    with rig.workdir() as tmp, sqlite_backend(str(tmp / "scale.db")) as lite:
        figures[:0] = reads(lite, template, rows, insert_sqlite)
    server, why = start_postgres()
    if server is None:
        print(f"  PostgreSQL rows unavailable: {why}", flush=True)
        missing = [
            *(Figure(f"postgres {n}", None, None, "s", GOAL_READS) for n in READ_LABELS),
            Figure(ACK_LABEL, None, None, "s", GOAL_ACK),
            Figure(ONCE_LABEL, None, None, "runs", 1.0),
        ]
        for fig in missing:
            fig.note = f"PostgreSQL rows unavailable: {why}"
        return [*figures[:-1], *missing, figures[-1]]
    try:
        with postgres_backend(server.create_database()) as pg:
            figures[-1:-1] = reads(pg, template, rows, insert_postgres)
        del rows
        figures[-1:-1] = replicas(server.create_database())
    finally:
        server.stop()
    return figures
