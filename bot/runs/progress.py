"""A run's tiers as people see them go: each tier's state stored, then published."""

from __future__ import annotations

from typing import Any

from bot.core.events import Event, TierWaiting
from bot.core.records import Run
from bot.core.secrets import redact
from bot.runs.context import LeaseLost, RunContext


def set_tier(
    ctx: RunContext,
    run_id: int,
    index: int,
    event: type[Event],
    *,
    shown: dict[str, str] | None = None,
    **fields: Any,
) -> Run:
    if not ctx.holds():
        raise LeaseLost(run_id)  # before any further step: the run is another replica's now
    run = ctx.store.get_run(run_id)
    tiers = list(run.tiers)
    tiers[index] = tiers[index].model_copy(update=fields)
    run = ctx.store.update_run(run_id, tiers=tiers)
    tier = tiers[index]
    extra: dict[str, Any] = {"tier": tier.name}
    if event is TierWaiting:
        extra["reason"] = tier.message
    if shown is not None:
        extra["outputs"] = shown
    ctx.publisher.publish(event, run_id, **extra)
    return run


def progress(ctx: RunContext, run_id: int, index: int, message: str) -> None:
    # The line quotes pods (a container's waiting message): it may hold a secret like any error.
    shown = redact(message, ctx.hidden)[:200]
    set_tier(ctx, run_id, index, TierWaiting, message=shown)
