"""Who may do what, and from which channel: the policy's checks, every refusal audited."""

from __future__ import annotations

from bot.core import policy, windows
from bot.core.errors import Forbidden, UserError
from bot.core.records import Actor, Run
from bot.usecases.context import UseCaseContext


def authorise(
    ctx: UseCaseContext, actor: Actor, action: policy.Action, target: str, *, audited_as: str | None = None
) -> None:
    """`action` as the access rules name it; a refusal is audited as `audited_as` (default: the
    action), e.g. reading logs needs `deploy` and is audited as `logs`."""
    try:
        policy.check_action(ctx.config, action, actor.user, ctx.groups_of(actor.user))
    except UserError:
        ctx.store.audit(actor.user, actor.channel, audited_as or action, target, "denied")
        raise


def check_channel(ctx: UseCaseContext, actor: Actor, cluster: str, action: str, target: str) -> None:
    """A change to a cluster (deploy, teardown) only from a channel its `channels` rule allows."""
    try:
        policy.check_channel(ctx.config, cluster, actor.channel)
    except UserError:
        ctx.store.audit(actor.user, actor.channel, action, target, "denied")
        raise


def check_window(
    ctx: UseCaseContext, actor: Actor, cluster: str, action: str, target: str, *, override: bool
) -> windows.Block | None:
    """A change to a cluster (deploy, rollback, upgrade, teardown) outside its change windows, or
    inside one with `--override-window`: then the Block, and the approval needs one more approver.
    A refusal is audited with its message (which window, when it opens)."""
    try:
        return policy.check_window(
            ctx.config, cluster, ctx.clock.local, override=override, requester=actor.user
        )
    except UserError as exc:
        ctx.store.audit(actor.user, actor.channel, action, target, "denied", exc.message)
        raise


def check_decision_channel(config: policy.Config, run: Run, channel: str) -> None:
    """An approval counts only from a channel the cluster's `channels` rule allows."""
    cc = config.cluster(run.cluster)
    if cc.channels and channel not in cc.channels:
        listing = ", ".join(f"<#{c}>" for c in cc.channels)
        raise Forbidden(
            f"approvals for `{run.cluster}` do not count from this channel: the cluster's `channels` "
            f"rule allows only {listing}",
            f"click Approve or Reject on the card in {listing} (or change `clusters.{run.cluster}.channels`)",
        )
