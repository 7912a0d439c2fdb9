"""Who opened the App Home, and a digest of the view last published to each of them.

Any replica refreshes any person's Home (the events reach whichever drives the run), so this
lives in the store: a view is published again only when its digest changed.
"""

from __future__ import annotations

from bot.store.sql import Connection


def opened(db: Connection, user: str, *, at: str) -> None:
    db.execute(
        "INSERT INTO home_views (user_id, opened_at) VALUES (?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at",
        [user, at],
    )


def viewers(db: Connection) -> list[str]:
    return [str(r["user_id"]) for r in db.query("SELECT user_id FROM home_views ORDER BY user_id", [])]


def swap_digest(db: Connection, user: str, digest: str) -> bool:
    """Record `digest` as the user's published view; False when it already was (nothing to do)."""
    result = db.execute(
        "UPDATE home_views SET digest = ? WHERE user_id = ? AND digest <> ?", [digest, user, digest]
    )
    return result.rowcount == 1


def forget_digest(db: Connection, user: str) -> None:
    """The publish failed: the next refresh must try again."""
    db.execute("UPDATE home_views SET digest = '' WHERE user_id = ?", [user])
