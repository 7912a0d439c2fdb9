"""SQLite underneath the store: one file, WAL, a connection per thread.

sqlite3 connections must stay on the thread that opened them, and the bot runs Slack handlers
and the executor on several threads, so each thread gets its own connection to the file (WAL:
readers never block the writer). `:memory:` has no file to share, so there one connection
serves every thread, one call at a time.

Write transactions take the database's write lock up front (`BEGIN IMMEDIATE`): a deferred
transaction that reads then writes can fail with SQLITE_BUSY on its first write when another
connection wrote in between, and SQLite does not retry that; taking the lock first makes every
read-check-write sequence atomic and lets `busy_timeout` do the waiting. That one lock also
stands in for every named lock PostgreSQL takes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from bot.store import sql

BUSY_TIMEOUT_MS = 5000


class SqliteConnection(sql.Connection):
    dialect: ClassVar[str] = "sqlite"
    # INTEGER PRIMARY KEY is SQLite's rowid alias: ids count up from the largest.
    types: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"id": "INTEGER PRIMARY KEY", "int": "INTEGER", "text": "TEXT"}
    )
    for_update: ClassVar[str] = ""
    skip_locked: ClassVar[str] = ""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql_text: str, params: Sequence[Any] = ()) -> sql.Result:
        with _mapped_errors():
            cursor = self.raw.execute(sql_text, list(params))
            rows = [dict(r) for r in cursor.fetchall()] if cursor.description else []
            return sql.Result(rows, cursor.rowcount)

    def executemany(self, sql_text: str, rows: Sequence[Sequence[Any]]) -> None:
        with _mapped_errors():
            self.raw.executemany(sql_text, [list(r) for r in rows])

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def _begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.execute("COMMIT")

    def _rollback(self) -> None:
        if self.raw.in_transaction:
            self.execute("ROLLBACK")

    def _lock(self, keys: Sequence[str]) -> None:
        pass  # BEGIN IMMEDIATE holds the one write lock there is

    def try_lock(self, key: str) -> bool:
        return True

    def reset_sequence(self, table: str) -> None:
        pass  # a rowid is always one past the largest

    def reclaim(self, tables: Sequence[str]) -> None:
        # secure_delete overwrote the old pages; their copies in the write-ahead log go when it
        # is checkpointed away.
        self.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def legacy_version(self) -> int:
        return int(self.scalar("PRAGMA user_version") or 0)

    def mark_version(self, version: int) -> None:
        # Programs from before `schema_version` read this and refuse a newer schema.
        # PRAGMA takes no parameters; the value is our own integer.
        self.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        self.raw.close()


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise sql.IntegrityError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise sql.DatabaseError(str(exc)) from exc


def _write_ahead_log(raw: sqlite3.Connection) -> None:
    """Switch the file to WAL. SQLite answers "database is locked" at once, without its busy
    handler, while another connection switches the same new file (replicas or threads starting
    together): wait for that switch to finish, within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


class SqliteBackend(sql.Backend):
    def __init__(self, path: str) -> None:
        self.path = path
        self.location = path
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shared: SqliteConnection | None = None
        if path == ":memory:":
            self._shared = self._connect(check_same_thread=False)
            return
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unavailable(exc.strerror or str(exc)) from None

    def _unavailable(self, reason: str) -> sql.DatabaseUnavailable:
        return sql.DatabaseUnavailable(
            f"cannot open the SQLite database {self.path}: {reason}",
            "check APPPROFILE_DB (a file the bot may write), or set APPPROFILE_DATABASE_URL to a "
            "postgresql:// URL",
        )

    def _connect(self, *, check_same_thread: bool = True) -> SqliteConnection:
        try:
            # isolation_level=None: no implicit transactions; writes that must be atomic say
            # BEGIN IMMEDIATE themselves.
            raw = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=check_same_thread,
            )
            raw.row_factory = sqlite3.Row
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            raw.execute("PRAGMA foreign_keys = ON")
            # Overwrite what is deleted or rewritten: sealing old clear rows must not leave them
            # in free pages.
            raw.execute("PRAGMA secure_delete = ON")
            if self.path != ":memory:":
                _write_ahead_log(raw)
        except sqlite3.Error as exc:
            raise self._unavailable(str(exc)) from None
        return SqliteConnection(raw)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sql.Connection]:
        if self._shared is not None:
            with self._lock:
                yield self._shared
            return
        conn: SqliteConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        yield conn

    def close(self) -> None:
        if self._shared is not None:
            with self._lock:
                self._shared.close()
            return
        conn: SqliteConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def dispose(self) -> None:
        # Other threads' connections can only be closed by those threads (they close when the
        # thread ends).
        self.close()

    @contextlib.contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        # One SQLite file serves one bot process: it always holds its own singletons.
        yield True
