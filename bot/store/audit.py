"""The audit log: who did what to which profile or deployment, and how it went (DESIGN §5).

Targets follow one convention so the log can be filtered: a profile is `name` or
`name@version`, a deployment is `cluster/name`. Callers may also say `profile=`/`cluster=`
outright (a deploy row is about both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.core.records import AuditEntry
from bot.core.secrets import redact
from bot.store.sql import Connection

_PROFILE_RE = re.compile(r"^([a-z0-9][a-z0-9-]*)(@[0-9.]+)?$")


def mask(text: str, secrets: Iterable[str]) -> str:
    # The caller named these values as secret: mask them whatever their length.
    return redact(text, secrets, min_length=1)


def _subject(target: str) -> tuple[str | None, str | None]:
    """(profile, cluster) a target names: `name[@version]` first, `cluster/deployment` anywhere,
    so `counter-app@1.1.0 → prod/shop` is about both."""
    profile: str | None = None
    cluster: str | None = None
    words = target.replace("→", " ").split()
    if words and "/" not in words[0]:
        found = _PROFILE_RE.match(words[0])
        profile = found.group(1) if found else None
    for word in words:
        if "/" in word:
            cluster = word.partition("/")[0] or None
    return profile, cluster


def write(
    db: Connection,
    *,
    at: str,
    actor: str,
    channel: str,
    action: str,
    target: str,
    result: str,
    detail: str = "",
    secrets: Iterable[str] = (),
    profile: str | None = None,
    cluster: str | None = None,
) -> None:
    secrets = tuple(secrets)
    target = mask(target, secrets)
    guessed_profile, guessed_cluster = _subject(target)
    AuditEntry.model_validate(  # refuse an unknown action before it reaches the table
        {
            "id": 0,
            "at": at,
            "actor": actor,
            "channel": channel,
            "action": action,
            "target": target,
            "result": result,
        }
    )
    db.execute(
        "INSERT INTO audit (at, actor, channel, action, target, result, detail, profile, cluster)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            at,
            mask(actor, secrets),
            channel,
            action,
            target,
            mask(result, secrets),
            mask(detail, secrets),
            profile if profile is not None else guessed_profile,
            cluster if cluster is not None else guessed_cluster,
        ],
    )


def entries(
    db: Connection,
    *,
    limit: int = 20,
    offset: int = 0,
    profile: str | None = None,
    cluster: str | None = None,
) -> list[AuditEntry]:
    """The newest `limit` rows matching the filters, skipping the `offset` newest (a later page)."""
    where: list[str] = []
    params: list[object] = []
    if profile is not None:
        where.append("profile = ?")
        params.append(profile)
    if cluster is not None:
        where.append("cluster = ?")
        params.append(cluster)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = db.query(
        "SELECT id, at, actor, channel, action, target, result, detail FROM audit"  # noqa: S608 - our own fragments
        f" {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, max(0, int(limit)), max(0, int(offset))],
    )
    return [AuditEntry.model_validate(row) for row in rows]
