"""The database file: migrations, pragmas, and connections per thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.core import model
from bot.store import schema
from bot.store.db import Store, iso


def make_profile(name: str = "counter-app", version: str = "1.0.0") -> model.Profile:
    return model.from_data(
        {"name": name, "version": version, "tiers": [{"name": "api", "type": "container", "properties": {}}]}
    )


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_file_gets_the_schema_and_its_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "app.db"
    Store(path)
    assert path.exists()
    assert user_version(path) == len(schema.MIGRATIONS)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"versions", "deployments", "runs", "approvals", "audit", "channel_profiles"} <= tables


def test_reopening_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    store = Store(path)
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.close()
    # If step 1 ran again it would fail (CREATE TABLE without IF NOT EXISTS) or, worse, recreate
    # what we drop here; neither may happen.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX audit_cluster")
    again = Store(path)
    assert again.get_version("counter-app").created_by == "U1"
    assert user_version(path) == len(schema.MIGRATIONS)
    with sqlite3.connect(path) as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "audit_cluster" not in indexes


def test_only_the_missing_steps_are_applied(tmp_path: Path) -> None:
    db = Database(sqlite3.connect(tmp_path / "steps.db", isolation_level=None), execute_plugins=False)
    steps = ["CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);", "INSERT INTO a VALUES (2);"]
    assert schema.migrate(db, steps) == 2
    assert schema.migrate(db, steps) == 2
    assert [r["x"] for r in db.query("SELECT x FROM a ORDER BY x")] == [1, 2]
    assert schema.migrate(db, [*steps, "INSERT INTO a VALUES (3);"]) == 3
    assert [r["x"] for r in db.query("SELECT x FROM a ORDER BY x")] == [1, 2, 3]
    assert schema.user_version(db) == 3


def test_a_failing_step_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    db = Database(sqlite3.connect(tmp_path / "steps.db", isolation_level=None), execute_plugins=False)
    schema.migrate(db, ["CREATE TABLE a (x INTEGER);"])
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(db, ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y INTEGER);", "NOT SQL;"])
    assert schema.user_version(db) == 1
    assert "b" not in db.table_names()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    Store(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        Store(path)


def test_each_thread_has_its_own_connection_with_the_pragmas(tmp_path: Path) -> None:
    store = Store(tmp_path / "app.db")
    seen: list[tuple[int, int, int]] = []

    def inspect() -> None:
        with store._db() as db:
            seen.append(
                (
                    id(db.conn),
                    db.execute("PRAGMA foreign_keys").fetchone()[0],
                    db.execute("PRAGMA busy_timeout").fetchone()[0],
                )
            )

    thread = threading.Thread(target=inspect)
    thread.start()
    thread.join(timeout=10)
    inspect()
    assert len({conn for conn, _, _ in seen}) == 2
    assert [(fk, busy) for _, fk, busy in seen] == [(1, 5000), (1, 5000)]


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
