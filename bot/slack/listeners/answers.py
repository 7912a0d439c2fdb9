"""Messages more than one listener answers with: a version's card, what a deploy request did, and
a tier's logs (the `logs` command and the Logs button post them alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.slack import blocks, logs_view
from bot.slack.blocks import Message

if TYPE_CHECKING:
    from bot.core.catalog import Catalog
    from bot.core.records import VersionRecord
    from bot.core.tickets import DeployTicket
    from bot.slack.listeners.replies import Replies
    from bot.usecases.logs import LogsAnswer


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
    if p.overwrites:
        text += (
            f"\n:warning: This apply takes back hand edits on {blocks.plural(len(p.overwrites), 'object')} "
            "(listed on the message in the channel)."
        )
    return blocks.plain(text)


def post_logs(replies: Replies, answer: LogsAnswer, user: str) -> None:
    """A tier's logs into its run's thread (the person is told where), or to the person alone
    when the run has no message; no lines at all: said to the person only."""
    if answer.line_count == 0:
        replies.private_text(logs_view.empty(answer))
        return
    run = answer.run
    if run is not None and run.message_ts:
        for text in logs_view.messages(answer, user):
            replies.in_thread(run.channel, run.message_ts, text)
        replies.private_text(logs_view.posted(answer, f"in the thread of run #{run.id}"))
        return
    for text in logs_view.messages(answer, user, limit=logs_view.MAX_EPHEMERAL):
        replies.private_text(text)
