"""Submissions of the create, version and clone forms.

A form is validated and saved before it is acked, so a mistake shows inline on its input (a
`UserError` with a `field`) and the form stays open; any other failure shows on the form as the
tree's text (an incident id for operator errors and bugs). Once saved, the new version's card is
posted in the channel as a job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core.errors import UserError
from bot.core.records import Actor
from bot.slack import failures, modals
from bot.slack.listeners import answers
from bot.slack.listeners.context import Context
from bot.slack.listeners.replies import Replies, clicker, no_response_url

if TYPE_CHECKING:
    from bot.core.records import VersionRecord

# (the submitted view, who submitted) -> the version saved
Save = Callable[[dict[str, Any], Actor], "VersionRecord"]


def register(app: App, ctx: Context) -> None:
    service = ctx.service

    def create(view: dict[str, Any], who: Actor) -> VersionRecord:
        form = modals.read_create(view)
        return service.create(
            who, form.yaml, name=form.name, version=form.version, description=form.description, tags=form.tags
        )

    def version(view: dict[str, Any], who: Actor) -> VersionRecord:
        opened = modals.context(view)
        form = modals.read_version(view)
        return service.new_version(
            who, opened.name, form.version, yaml_text=form.yaml, from_version=opened.version
        )

    def clone(view: dict[str, Any], who: Actor) -> VersionRecord:
        opened = modals.context(view)
        form = modals.read_clone(view)
        return service.clone(who, opened.name, opened.version, form.new_name, new_version=form.new_version)

    on(app, ctx, modals.CREATE, "yaml", create, "Created")
    on(app, ctx, modals.VERSION, "yaml", version, "New version")
    on(app, ctx, modals.CLONE, "new_name", clone, "Cloned")


def on(app: App, ctx: Context, callback_id: str, default_block: str, save: Save, title: str) -> None:
    """Listen for submissions of one form: save (errors inline), ack, then post the card."""

    def listener(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        try:
            channel = modals.context(view).channel
            who = clicker({**body, "channel": {"id": channel}})
            rec = save(view, who)
        except UserError as exc:
            ack(response_action="errors", errors={modals.error_block(view, exc, default_block): _inline(exc)})
            return
        except Exception as exc:
            seen = failures.explain(exc, f"{title} form")
            ack(response_action="errors", errors={default_block: failures.form_text(seen)})
            return
        ack()
        replies = Replies(client, no_response_url, channel)
        catalog = ctx.service.catalog
        ctx.jobs.run(f"{title} post", replies, lambda: replies.public(answers.card(rec, catalog, title)))

    app.view(callback_id)(listener)


def _inline(exc: UserError) -> str:
    return (exc.message if not exc.hint else f"{exc.message} — {exc.hint}")[:1500]
