"""The Previous / Next buttons under a list (`bot.slack.tables`): the page they name, in place.

A click runs the list's query again through the use cases as the person who clicked, so a page
shows what that person's own command would show now (permission checks stay in the use cases).
The button's value only says which list, where the page starts and the filters; it is parsed
strictly (`tables.PageValue`), and a forged or stale one is "out of date".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, assert_never

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core.records import Actor
from bot.slack import action_ids, tables
from bot.slack.blocks import Message
from bot.slack.listeners.buttons import button_value
from bot.slack.listeners.context import Context
from bot.slack.listeners.replies import Replies, clicker

if TYPE_CHECKING:
    from bot.usecases.service import Service

# Both buttons: `list_page.previous` and `list_page.next` (action ids differ within a block).
PAGE_ACTIONS = re.compile(rf"^{re.escape(action_ids.PAGE_ACTION)}\.(previous|next)$")


def register(app: App, ctx: Context) -> None:
    @app.action(PAGE_ACTIONS)
    def on_page(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        who = clicker(body)
        replies = Replies(client, respond, who.channel)
        ctx.jobs.run("page", replies, lambda: turn(ctx.service, action, who, replies))


def turn(service: Service, action: dict[str, Any], who: Actor, replies: Replies) -> None:
    """The page the button names replaces the message it was on."""
    page = button_value(action, tables.PageValue).root
    replies.private(show(service, who, page), replace=True)


def show(service: Service, who: Actor, page: tables.Page) -> Message:
    """One page of a list, as `who` may see it now."""
    match page:
        case tables.DeploymentsPage():
            return tables.deployments(service.deployments(who), page.offset)
        case tables.VersionsPage():
            return tables.versions(service.versions(who, page.name), page.offset)
        case tables.AuditPage():
            return audit(service, who, page)
        case _:
            assert_never(page)


def audit(service: Service, who: Actor, page: tables.AuditPage) -> Message:
    """The store pages the audit log: one row past the page says whether a Next exists, and
    never a row past the N the person asked for (`audit 50`: pages of 20, 20 and 10)."""
    wanted = min(tables.PAGE_SIZE + 1, page.limit - page.offset)
    rows = service.audit(who, wanted, page.profile, page.cluster, offset=page.offset)
    return tables.audit(rows[: tables.PAGE_SIZE], page, more=len(rows) > tables.PAGE_SIZE)
