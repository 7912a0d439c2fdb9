"""The database: migrations, connection settings, connections per thread, errors at the edge."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from bot.core import model
from bot.core.errors import UserError
from bot.store import postgres, schema, sql
from bot.store.db import Store, iso, store_from_url
from bot.store.sqlite import SqliteConnection
from tests.store.conftest import Backend

LATEST = len(schema.MIGRATIONS)
TABLES = {"versions", "deployments", "runs", "approvals", "audit", "channel_profiles", "schema_version"}


def make_profile(name: str = "counter-app", version: str = "1.0.0") -> model.Profile:
    return model.from_data(
        {"name": name, "version": version, "tiers": [{"name": "api", "type": "container", "properties": {}}]}
    )


def user_version(path: Path | str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_database_gets_the_schema(backend: Backend) -> None:
    backend.open()
    assert backend.tables() >= TABLES
    assert backend.versions_applied() == list(range(1, LATEST + 1))
    if backend.name == "sqlite":
        # Programs from before the schema_version table read the version here.
        assert user_version(backend.location) == LATEST
        assert backend.raw("PRAGMA journal_mode") == [("wal",)]


def test_a_new_sqlite_file_gets_its_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "app.db"
    Store(path)
    assert path.exists()


def test_migrating_again_changes_nothing(backend: Backend) -> None:
    store = backend.open(migrate=False)
    assert store.migrate() == (0, LATEST)
    assert store.migrate() == (LATEST, LATEST)
    assert backend.open().migrate() == (LATEST, LATEST)
    assert backend.versions_applied() == list(range(1, LATEST + 1))


def test_reopening_does_not_rerun_migrations(backend: Backend) -> None:
    store = backend.open()
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.dispose()
    # If step 1 ran again it would fail (CREATE TABLE without IF NOT EXISTS) or, worse, recreate
    # what we drop here; neither may happen.
    backend.raw("DROP INDEX audit_cluster")
    again = backend.open()
    assert again.get_version("counter-app").created_by == "U1"
    assert "audit_cluster" not in backend.indexes()
    assert backend.versions_applied() == list(range(1, LATEST + 1))


def test_two_replicas_starting_together_migrate_once(backend: Backend) -> None:
    barrier = threading.Barrier(3, timeout=30)
    results: list[schema.Migrated | BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        store = backend.open(migrate=False)  # its own connection, like another replica
        barrier.wait()
        try:
            outcome: schema.Migrated | BaseException = store.migrate()
        except BaseException as exc:
            outcome = exc
        finally:
            store.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [(0, LATEST), (LATEST, LATEST), (LATEST, LATEST)], results
    assert backend.versions_applied() == list(range(1, LATEST + 1))


def test_only_the_missing_steps_are_applied(backend: Backend) -> None:
    store = backend.open(migrate=False)
    steps = [
        schema.Migration(("CREATE TABLE a (x {int})", "INSERT INTO a VALUES (1)")),
        schema.Migration(("INSERT INTO a VALUES (2)",)),
    ]
    with store._conn() as conn:
        assert schema.migrate(conn, at="t", steps=steps) == (0, 2)
        assert schema.migrate(conn, at="t", steps=steps) == (2, 2)
        assert [r["x"] for r in conn.query("SELECT x FROM a ORDER BY x")] == [1, 2]
        three = [*steps, schema.Migration(("INSERT INTO a VALUES (3)",))]
        assert schema.migrate(conn, at="t", steps=three) == (2, 3)
        assert [r["x"] for r in conn.query("SELECT x FROM a ORDER BY x")] == [1, 2, 3]
        assert schema.current_version(conn) == 3


def test_a_migration_has_statements_of_its_own_per_backend(backend: Backend) -> None:
    store = backend.open(migrate=False)
    step = schema.Migration(
        ("CREATE TABLE a (x {text})",),
        sqlite=("INSERT INTO a VALUES ('sqlite')",),
        postgresql=("INSERT INTO a VALUES ('postgresql')",),
    )
    with store._conn() as conn:
        schema.migrate(conn, at="t", steps=[step])
        assert conn.query("SELECT x FROM a") == [{"x": backend.name}]


def test_a_failing_step_leaves_the_database_as_it_was(backend: Backend) -> None:
    store = backend.open(migrate=False)
    with store._conn() as conn:
        schema.migrate(conn, at="t", steps=[schema.Migration(("CREATE TABLE a (x {int})",))])
        failing = [
            schema.Migration(("CREATE TABLE a (x {int})",)),
            schema.Migration(("CREATE TABLE b (y {int})",)),
            schema.Migration(("NOT SQL",)),
        ]
        with pytest.raises(sql.DatabaseError):
            schema.migrate(conn, at="t", steps=failing)
        assert schema.current_version(conn) == 1
    assert "b" not in backend.tables()


def test_a_newer_schema_is_refused(backend: Backend) -> None:
    backend.open().dispose()
    backend.raw(f"INSERT INTO schema_version (version, applied_at) VALUES ({LATEST + 1}, 'later')")
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        backend.open()


def test_a_sqlite_file_from_before_schema_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # What the bot wrote before: migration 1, its version in PRAGMA user_version only.
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
        for statement in schema.MIGRATIONS[0].for_dialect(SqliteConnection(raw)):
            raw.execute(statement)
        raw.execute(
            "INSERT INTO runs (cluster, deployment, profile, version, kind, status, requested_by, channel,"
            " fingerprint, created_at, updated_at) VALUES ('prod', 'shop', 'p', '1.0.0', 'deploy', 'running',"
            " 'U1', 'C1', 'f', 't', 't')"
        )
        raw.execute("PRAGMA user_version = 1")
    store = Store(path)
    assert user_version(path) == LATEST
    running = store.running_run("prod", "shop")
    assert running is not None
    assert (running.lease_owner, running.lease_expires_at) == (None, None)
    # A run claimed before leases existed has no lease to wait for: it can be taken over.
    assert [r.id for r in store.expired_running_runs()] == [running.id]
    # Only the migrations the file lacked ran (and were recorded).
    with contextlib.closing(sqlite3.connect(path)) as conn:
        applied = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert applied == [(v,) for v in range(2, LATEST + 1)]


def test_each_thread_has_its_own_connection_with_its_settings(backend: Backend) -> None:
    store = backend.open()
    settings = (
        ["PRAGMA foreign_keys", "PRAGMA busy_timeout", "PRAGMA secure_delete"]
        if backend.name == "sqlite"
        else ["SHOW lock_timeout"]
    )
    seen: list[tuple[int, list[object]]] = []

    def inspect() -> None:
        with store._conn() as conn:
            seen.append((id(conn), [conn.scalar(s) for s in settings]))

    thread = threading.Thread(target=inspect)
    thread.start()
    thread.join(timeout=10)
    inspect()
    assert len({conn for conn, _ in seen}) == 2
    expected = [1, 5000, 1] if backend.name == "sqlite" else ["30s"]
    assert [values for _, values in seen] == [expected, expected]


def test_a_memory_store_is_shared_by_threads(tmp_path: Path) -> None:
    store = Store(":memory:")
    thread = threading.Thread(
        target=store.create_version,
        args=(make_profile(),),
        kwargs={"actor": "U1", "channel": "C1", "kind": "create"},
    )
    thread.start()
    thread.join(timeout=10)
    assert store.get_version("counter-app").created_by == "U1"
    assert list(tmp_path.iterdir()) == []


def test_timestamps_are_utc_iso_text_in_time_order() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1_700_000_000.9) == "2023-11-14T22:13:20Z"
    assert iso(9.0) < iso(10.0) < iso(100_000.0)
    store = Store(":memory:", now=lambda: 1_700_000_000.0)
    assert store.timestamp(7200) == "2023-11-15T00:13:20Z"


def test_names_sort_byte_for_byte_on_both(backend: Backend) -> None:
    # A locale-aware collation would put "aa" first (it ignores the hyphen); the store must not.
    store = backend.open()
    for name in ("aa", "a-b", "a0"):
        store.create_version(make_profile(name), actor="U1", channel="C1", kind="create")
    assert [p.name for p in store.list_profiles()] == ["a-b", "a0", "aa"]


def test_store_from_url_picks_the_backend(backend: Backend) -> None:
    store = store_from_url(backend.location)
    backend.stores.append(store)
    assert store.dialect == backend.name
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    assert backend.open().latest_version("counter-app") == "1.0.0"


# -- errors stay inside the store ----------------------------------------------------------


def test_a_broken_database_raises_the_stores_own_error(backend: Backend) -> None:
    store = backend.open()
    backend.raw("DROP TABLE versions")
    with pytest.raises(sql.DatabaseError) as err:
        store.list_profiles()
    assert not isinstance(err.value, UserError)  # a bug or broken database: an incident
    assert type(err.value).__module__ == "bot.store.sql"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_an_unreachable_postgres_is_an_operator_error_without_the_password() -> None:
    url = f"postgresql://bot:s3cret-pw@127.0.0.1:{_closed_port()}/appprofile"
    with pytest.raises(sql.DatabaseUnavailable) as err:
        Store(url)
    assert isinstance(err.value, UserError)
    assert "cannot reach the PostgreSQL database postgresql://bot:••••••@127.0.0.1" in err.value.message
    assert err.value.hint is not None
    assert "APPPROFILE_DATABASE_URL" in err.value.hint
    assert "s3cret-pw" not in str(err.value)


def test_urls_are_printed_without_their_password() -> None:
    assert (
        postgres.redacted("postgresql://bot:pw@db.internal:5432/app")
        == "postgresql://bot:••••••@db.internal:5432/app"
    )
    assert postgres.redacted("postgresql://db/app?password=pw&sslmode=require") == (
        "postgresql://db/app?password=••••••&sslmode=require"
    )
    assert postgres.redacted("postgresql:///app") == "postgresql:///app"


def test_an_unopenable_sqlite_file_is_an_operator_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(sql.DatabaseUnavailable) as err:
        Store(tmp_path / "file" / "app.db")
    assert err.value.hint is not None
    assert "APPPROFILE_DB" in err.value.hint


def test_a_lost_postgres_session_fails_one_call_then_reconnects(postgresql: Backend) -> None:
    backend = postgresql
    store = backend.open()
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    backend.raw(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 10
    while backend.raw("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()")[0][0] > 1:
        assert time.monotonic() < deadline, "the terminated session did not go away"
        time.sleep(0.05)
    with pytest.raises(sql.DatabaseUnavailable) as err:
        store.list_profiles()
    assert "APPPROFILE_DATABASE_URL" in (err.value.hint or "")
    assert [p.name for p in store.list_profiles()] == ["counter-app"]


def test_singleton_is_held_by_one_holder_at_a_time(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    with first.singleton("sweep") as held:
        assert held is True
        with second.singleton("sweep") as also:
            # SQLite serves one process: it always holds its own singletons.
            assert also is (backend.name == "sqlite")
        with second.singleton("other") as other:
            assert other is True
    with second.singleton("sweep") as held_now:
        assert held_now is True
