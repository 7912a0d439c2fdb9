"""A run that failed: its error said as the error tree says it, secrets scrubbed, then stored."""

from __future__ import annotations

import logging
import uuid

from bot.core import errors
from bot.core.errors import DeployError
from bot.core.events import TierFailed
from bot.core.secrets import redact
from bot.runs.context import RunContext

log = logging.getLogger("appprofile.executor")


def fail_with(ctx: RunContext, run_id: int, exc: Exception) -> str:
    """End the run with `exc`; returns the failure's full text for the run's finish."""
    seen = errors.shown(exc, lambda: uuid.uuid4().hex[:8])
    if seen.log:
        log.error(
            "run failed: %s", seen.kind, extra={"run_id": run_id, "incident": seen.incident}, exc_info=exc
        )
    detail = exc.detail if isinstance(exc, DeployError) and exc.detail else (seen.hint or "")
    return fail(ctx, run_id, seen.text, detail)


def fail(ctx: RunContext, run_id: int, message: str, detail: str) -> str:
    """The run and the tiers it was in marked failed; returns `detail`, scrubbed."""
    message, detail = redact(message, ctx.hidden), redact(detail, ctx.hidden)
    run = ctx.store.get_run(run_id)
    now = ctx.clock.now()
    failed = [t.name for t in run.tiers if t.state in ("applying", "waiting")]
    tiers = [
        t.model_copy(update={"state": "failed", "finished_at": now, "message": message[:300]})
        if t.name in failed
        else t
        for t in run.tiers
    ]
    if run.deployment_id is not None:
        ctx.store.update_deployment(run.deployment_id, status="failed")
    run = ctx.store.update_run(run_id, status="failed", error=message, tiers=tiers)  # terminal last
    ctx.store.audit(
        run.requested_by, run.channel, run.kind, f"{run.cluster}/{run.deployment}", "failed", message
    )
    for name in failed:
        ctx.publisher.publish(TierFailed, run_id, tier=name, message=message[:300])
    return detail
