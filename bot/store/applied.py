"""The field digests of what each deployment applied (`bot.core.drift`), one row per object.

Kept apart from the deployment's row: a deployment of 10 objects carries a few hundred digests,
which `deployments` and every list would otherwise parse for nothing. Only drift checks read them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.store.sql import Connection


def record(db: Connection, deployment_id: int, objects: Mapping[str, Any]) -> None:
    """Each object's digests (object key → JSON-able fields), replacing what it had."""
    with db.transaction():
        for key, fields in objects.items():
            db.execute(
                "INSERT INTO applied_fields (deployment_id, object, fields) VALUES (?, ?, ?)"
                " ON CONFLICT (deployment_id, object) DO UPDATE SET fields = excluded.fields",
                [deployment_id, key, json.dumps(fields)],
            )


def of(db: Connection, deployment_id: int) -> dict[str, Any]:
    rows = db.query("SELECT object, fields FROM applied_fields WHERE deployment_id = ?", [deployment_id])
    return {str(r["object"]): json.loads(r["fields"]) for r in rows}
