"""Every store test runs on both backends: `backend` is SQLite (a file in tmp_path) or
PostgreSQL (an empty database of its own on the session's server, see tests/postgres.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.store import schema
from bot.store.db import Store
from tests.postgres import PostgresServer

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Backend:
    """One database under test, and ways to look at it from outside the store."""

    name: str
    location: str
    server: PostgresServer | None = None
    stores: list[Store] = field(default_factory=list)

    def open(self, **kwargs: Any) -> Store:
        """A store on this database (closed at the end of the test)."""
        store = Store(self.location, **kwargs)
        self.stores.append(store)
        return store

    def raw(self, statement: str) -> list[tuple[Any, ...]]:
        """Run one statement on a session of its own, outside the store."""
        if self.server is None:
            with contextlib.closing(sqlite3.connect(self.location, isolation_level=None)) as conn:
                return conn.execute(statement).fetchall()
        with psycopg.connect(self.location, autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def stored_bytes(self) -> bytes:
        """Every byte the database keeps on disk for this database's tables."""
        if self.server is None:
            path = Path(self.location)
            # The database, its WAL and shared-memory index: every file SQLite wrote.
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return b"".join(p.read_bytes() for p in self.server.database_files(self.location))

    def tables(self) -> set[str]:
        if self.server is None:
            return {r[0] for r in self.raw("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = self.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {r[0] for r in found}

    def indexes(self) -> set[str]:
        if self.server is None:
            return {r[0] for r in self.raw("SELECT name FROM sqlite_master WHERE type = 'index'")}
        return {r[0] for r in self.raw("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}

    def versions_applied(self) -> list[int]:
        return [r[0] for r in self.raw("SELECT version FROM schema_version ORDER BY version")]

    def reset(self) -> None:
        """Delete every row (children first), e.g. between hypothesis examples."""
        for table, _ in reversed(schema.TABLES):
            self.raw(f"DELETE FROM {table}")

    def close(self) -> None:
        for store in self.stores:
            store.dispose()


def _postgresql(request: pytest.FixtureRequest) -> Iterator[Backend]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    found = Backend("postgresql", server.create_database(), server)
    try:
        yield found
    finally:
        found.close()
        server.drop_database(found.location)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgresql":
        yield from _postgresql(request)
        return
    found = Backend("sqlite", str(tmp_path / "app.db"))
    yield found
    found.close()


@pytest.fixture
def postgresql(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """For what only PostgreSQL has (a server session to lose, a copy target)."""
    yield from _postgresql(request)


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open(now=lambda: 1_700_000_000.0)
