"""The SQL the repositories speak, whichever database is underneath.

Repositories write each statement once, with `?` placeholders, in the SQL that SQLite and
PostgreSQL both accept; a `Connection` runs it and returns rows as dicts. What differs — how a
write transaction takes its lock, row locks, the column types of DDL, what to do after
rewriting secret rows — lives in the two subclasses (`bot.store.sqlite`, `bot.store.postgres`),
and a `Backend` hands each thread its connection.

Library exceptions stop here: they leave as `DatabaseError` (a bug or a broken database: the
adapters show an incident id), `IntegrityError` (a constraint refused a write), or
`DatabaseUnavailable` (the operator's to fix: a UserError with a hint).
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.core.errors import UserError


class DatabaseError(Exception):
    """The database failed or refused a statement for a reason no person can fix from Slack."""


class IntegrityError(DatabaseError):
    """A unique, foreign-key or check constraint refused a write."""


class DatabaseUnavailable(UserError):
    """The database cannot be opened or reached: the operator's configuration or server."""


@dataclass(frozen=True)
class Result:
    rows: list[dict[str, Any]]
    rowcount: int


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for a lock name (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"appprofile:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def quoted(column: str) -> str:
    # Double quotes are the standard identifier quote in both: `user` is a keyword in PostgreSQL.
    return '"' + column.replace('"', '""') + '"'


class Connection(ABC):
    """One database session. Not shared between threads (a `Backend` gives each its own)."""

    dialect: ClassVar[str]
    # DDL tokens in migration statements, per database: {id} {int} {text}.
    types: ClassVar[Mapping[str, str]]
    # Appended to a SELECT of rows the transaction will write (PostgreSQL row locks; SQLite's
    # BEGIN IMMEDIATE already holds the whole database).
    for_update: ClassVar[str]
    skip_locked: ClassVar[str]

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def _lock(self, keys: Sequence[str]) -> None:
        """Hold these named locks until the transaction ends (waiting for them)."""

    @abstractmethod
    def try_lock(self, key: str) -> bool:
        """Inside a transaction: True if this session now holds `key` until the transaction ends."""

    @abstractmethod
    def reset_sequence(self, table: str) -> None:
        """After rows were inserted with explicit ids: new rows get ids past the largest."""

    @abstractmethod
    def reclaim(self, tables: Sequence[str]) -> None:
        """After rewriting rows that held secrets: drop what the old row versions left behind."""

    @abstractmethod
    def legacy_version(self) -> int:
        """The schema version recorded before the `schema_version` table existed (0: none)."""

    @abstractmethod
    def mark_version(self, version: int) -> None:
        """Record the schema version where older programs look for it."""

    @abstractmethod
    def close(self) -> None: ...

    @contextlib.contextmanager
    def transaction(self, *locks: str) -> Iterator[None]:
        """A write transaction holding the named `locks`; nested use joins the outer one."""
        if self.in_transaction:
            self._lock(sorted(set(locks)))
            yield
            return
        self._begin()
        try:
            # Sorted, so two transactions that want the same locks never wait on each other.
            self._lock(sorted(set(locks)))
            yield
        except BaseException:
            self._rollback_quietly()
            raise
        try:
            self._commit()
        except BaseException:
            self._rollback_quietly()
            raise

    def _rollback_quietly(self) -> None:
        # The error that made us roll back is the one worth reporting, not a second one.
        with contextlib.suppress(DatabaseError, DatabaseUnavailable):
            self._rollback()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.execute(sql, params).rows

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.execute(sql, params).rows
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    def insert(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row; returns its new id."""
        columns = ", ".join(quoted(c) for c in row)
        marks = ", ".join("?" for _ in row)
        statement = f"INSERT INTO {quoted(table)} ({columns}) VALUES ({marks}) RETURNING id"  # noqa: S608 - quoted identifiers
        found = self.one(statement, list(row.values()))
        if found is None:
            raise DatabaseError(f"the database returned no id for the new {table} row")
        return int(found["id"])

    def update(self, table: str, row_id: int, changed: Mapping[str, Any]) -> None:
        sets = ", ".join(f"{quoted(c)} = ?" for c in changed)
        self.execute(f"UPDATE {quoted(table)} SET {sets} WHERE id = ?", [*changed.values(), row_id])  # noqa: S608 - quoted identifiers


class Backend(ABC):
    """Where the data lives; hands each thread its connection."""

    # Safe to print: no password.
    location: str

    @abstractmethod
    def connection(self) -> contextlib.AbstractContextManager[Connection]: ...

    @abstractmethod
    def close(self) -> None:
        """Close the calling thread's connection."""

    @abstractmethod
    def dispose(self) -> None:
        """Close every connection this backend opened that can be closed from here."""

    @abstractmethod
    def singleton(self, name: str) -> contextlib.AbstractContextManager[bool]: ...
