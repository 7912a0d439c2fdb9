"""A tier's namespace, made and labelled before its objects are applied, unless someone else's."""

from __future__ import annotations

from bot.core import plan, render
from bot.core.ports import Cluster


def ensure(cluster: Cluster, tp: plan.TierPlan, p: plan.Plan, guard: plan.Guard | None) -> None:
    owner = guard.owner(tp.namespace) if guard is not None else cluster.namespace_owner(tp.namespace)
    if not owner.exists or owner.managed:
        # A namespace appprofile did not create (opened by guardrails.namespaces) is written
        # into, never labelled: its labels stay its owner's.
        cluster.ensure_namespace(tp.namespace, render.namespace_labels(p.deployment, tp.name, p.version))
