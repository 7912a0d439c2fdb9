"""`appprofile db copy`: move an install from its SQLite file into an empty PostgreSQL database.

Rows are copied as stored — ids kept, sealed columns still sealed (no key needed), JSON text
byte for byte — table by table, parents first, in one target transaction: a copy that fails
leaves the target empty. Then the target's id sequences are set past the largest copied id, so
the next row written there does not collide.
"""

from __future__ import annotations

from bot.core.errors import Conflict
from bot.store import schema, sql
from bot.store.db import Store

LOCK = "copy"


def _held(conn: sql.Connection) -> dict[str, int]:
    counts = {t: int(conn.scalar(f"SELECT COUNT(*) FROM {sql.quoted(t)}")) for t, _ in schema.TABLES}  # noqa: S608
    return {t: n for t, n in counts.items() if n}


def _refuse_if_not_empty(conn: sql.Connection, where: str) -> None:
    held = _held(conn)
    if held:
        listing = ", ".join(f"{n} in {t}" for t, n in held.items())
        raise Conflict(
            f"{where} already holds rows ({listing}); nothing was copied",
            hint="copy into an empty database: create a new one (`createdb appprofile`) and point "
            "--to at it, or drop this one's tables first",
        )


def _copy_table(source: sql.Connection, target: sql.Connection, table: str, order: str) -> int:
    rows = source.query(f"SELECT * FROM {sql.quoted(table)} ORDER BY {sql.quoted(order)}")  # noqa: S608
    if rows:
        columns = list(rows[0])
        names = ", ".join(sql.quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {sql.quoted(table)} ({names}) VALUES ({marks})"  # noqa: S608 - quoted identifiers
        target.executemany(statement, [[r[c] for c in columns] for r in rows])
    if order == "id":
        target.reset_sequence(table)
    return len(rows)


def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every row of `source` into `target`, which must be empty; rows per table."""
    # Both at the newest schema (opening them migrated them), so their columns are the same.
    # The source's write lock too: a bot still writing there cannot slip a row past the copy.
    with source._conn() as src, target._conn() as dst, src.transaction(), dst.transaction(LOCK):
        _refuse_if_not_empty(dst, target.path)
        return {table: _copy_table(src, dst, table, order) for table, order in schema.TABLES}
