"""Generated passwords: made at a tier's first deploy, kept in a Secret in the cluster."""

from __future__ import annotations

from collections.abc import Callable

from bot.core import plan
from bot.core.ports import Cluster


def generated(
    cluster: Cluster, tp: plan.TierPlan, hidden: set[str], password: Callable[[], str]
) -> dict[str, str]:
    """Made once, kept in a Secret in the cluster (one of the tier's planned objects), reused
    by every deploy."""
    if not tp.generated:
        return {}
    existing = cluster.read_secret(tp.namespace, tp.generated_secret) or {}
    values = {k: existing[k] if existing.get(k) else password() for k in tp.generated}
    hidden.update(values.values())  # before anything can fail with them in its message
    return values
