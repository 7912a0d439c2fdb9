"""Messages more than one listener answers with: a version's card, and what a deploy request did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.slack import blocks
from bot.slack.blocks import Message

if TYPE_CHECKING:
    from bot.core.catalog import Catalog
    from bot.core.records import VersionRecord
    from bot.core.tickets import DeployTicket


def card(rec: VersionRecord, catalog: Catalog, title: str) -> Message:
    note = "It is now this channel's current profile." if rec.kind == "create" else ""
    return blocks.version_card(rec, catalog, title=title, note=note)


def preview(ticket: DeployTicket) -> Message:
    """No executor: the plan only, in the channel."""
    p = ticket.plan
    note = "No cluster executor is running, so this is the plan only."
    return blocks.deploy_preview(p.profile, p.version, p.cluster, p.deployment, p.summary(), note)


def deploy_started(ticket: DeployTicket) -> Message:
    """The private answer to a deploy: the channel already has the approval card or the progress
    message; the first line says what is deployed where, whether or not the command named it."""
    p = ticket.plan
    what = f"{p.profile} {p.version} → {p.deployment} on {p.cluster}"
    if ticket.awaiting_approval:
        text = f"Approval requested to deploy {what} (run #{ticket.run_id}): the card is in the channel."
    elif ticket.queued_position:
        behind = blocks.plural(ticket.queued_position, "other run")
        text = (
            f"Deploying {what}: run #{ticket.run_id} is queued behind {behind}; "
            "its message in the channel shows its place."
        )
    else:
        text = f"Deploying {what}: run #{ticket.run_id} started ({p.summary()}); progress is in the channel."
    if ticket.window_note:
        # `--override-window`: which window, and that the approval needs one more approver.
        text += f"\n{ticket.window_note}"
    return blocks.plain(text)
