"""Write transactions that take the database's write lock up front (`BEGIN IMMEDIATE`).

A deferred transaction that reads then writes can fail with SQLITE_BUSY on its first write
when another connection wrote in between, and SQLite does not retry that; taking the lock
first makes a read-check-write sequence atomic and lets `busy_timeout` do the waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlite_utils import Database


@contextlib.contextmanager
def immediate(db: Database) -> Iterator[Database]:
    if db.conn.in_transaction:
        # Nested use joins the outer transaction, which already holds the write lock.
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    try:
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
