"""Clicks on the buttons the bot drew: help, delete (confirm, choose, cancel), approve and reject,
retry and roll back, upgrade, revert drift, view plan, and a tier's logs.

Every click is acked at once and handled as a job. A button's value only names what it is for;
it is parsed strictly (a forged or stale value is "out of date"), and the use case re-checks
everything against the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core import model
from bot.core.errors import UserError
from bot.core.records import Actor
from bot.slack import action_ids, blocks, plan_view
from bot.slack.listeners import answers
from bot.slack.listeners.context import Context
from bot.slack.listeners.replies import Replies, clicker, from_home, to_person
from bot.usecases.deletes import DeleteTarget

OUT_OF_DATE = "this button is out of date"


class DeleteValue(BaseModel):
    """A delete button's value. Only names what to delete; the use case re-authorises."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["profile", "version", "deployment"]
    name: str = Field(pattern=model.NAME_RE.pattern)
    version: str | None = Field(default=None, max_length=40)
    cluster: str | None = Field(default=None, max_length=63)
    purge: bool = False
    override_window: bool = False

    def target(self) -> DeleteTarget:
        return DeleteTarget(**self.model_dump())


class UpgradeValue(BaseModel):
    """The Upgrade button's value: which deployment; the version is the profile's latest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str = Field(max_length=63)
    name: str = Field(max_length=63)


class RunCard(BaseModel):
    """The approval buttons' value: which run, and the plan fingerprint the card showed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: int
    fp: str = Field(max_length=128)


class LogsValue(BaseModel):
    """The Logs button's value: which run's message, and which of its tiers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: int
    tier: str = Field(pattern=model.TIER_RE.pattern)


_Value = TypeVar("_Value", bound=BaseModel)


def button_value(action: dict[str, Any], kind: type[_Value]) -> _Value:
    try:
        return kind.model_validate(json.loads(str(action.get("value") or "")))
    except (ValueError, ValidationError):
        raise UserError(OUT_OF_DATE, "run the command again for a fresh one") from None


def run_id(action: dict[str, Any], hint: str) -> int:
    raw = str(action.get("value") or "")
    if not raw.isdecimal():
        raise UserError(OUT_OF_DATE, hint)
    return int(raw)


# A click's job: (the click's action, who clicked, where answers go, the click's body).
Job = Callable[[dict[str, Any], Actor, Replies, dict[str, Any]], None]


def register(app: App, ctx: Context) -> None:
    def on(action_id: str, what: str, job: Job) -> None:
        """Listen for `action_id`: ack, then run `job` as `what` on the executor."""

        def listener(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
        ) -> None:
            ack()
            who = clicker(body)
            home = from_home(body)  # no response_url, no channel: answers go to the person's DM
            replies = (
                Replies(client, to_person(client, who.user), who.user)
                if home
                else Replies(client, respond, who.channel)
            )
            ctx.jobs.run(what, replies, lambda: clicked(ctx, job, (action, who, replies, body), home=home))

        app.action(action_id)(listener)

    @app.action(action_ids.CANCEL_ACTION)
    def on_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(delete_original=True)

    clicks = Clicks(ctx)
    on(action_ids.HELP_ACTION, "help", clicks.help)
    on(action_ids.DELETE_ACTION, "delete", clicks.delete)
    on(action_ids.DELETE_CHOOSE_ACTION, "delete choice", clicks.delete_choice)
    on(action_ids.APPROVE_ACTION, "approve", clicks.decide("approve"))
    on(action_ids.REJECT_ACTION, "reject", clicks.decide("reject"))
    on(action_ids.RETRY_ACTION, "retry", clicks.rerun(rollback=False))
    on(action_ids.ROLLBACK_ACTION, "rollback", clicks.rerun(rollback=True))
    on(action_ids.UPGRADE_ACTION, "upgrade", clicks.upgrade)
    on(action_ids.REVERT_ACTION, "revert", clicks.revert)
    on(action_ids.VIEW_PLAN_ACTION, "view plan", clicks.view_plan)
    on(action_ids.LOGS_ACTION, "logs", clicks.logs)


def clicked(
    ctx: Context, job: Job, args: tuple[dict[str, Any], Actor, Replies, dict[str, Any]], *, home: bool
) -> None:
    """Run the click's job; a click on the Home tab then refreshes that Home (what it showed
    may have changed, or its button may have been out of date)."""
    try:
        job(*args)
    finally:
        if home:
            ctx.refresh_home(args[1].user)


class Clicks:
    """What each button does, once acked."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.service = ctx.service

    def help(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        replies.private(blocks.help_message(self.service.help_text()))

    def delete(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        done = self.service.delete_target(who, button_value(action, DeleteValue).target())
        replies.private(blocks.plain(done), replace=True)
        replies.public(blocks.plain(f"<@{who.user}>: {done}"))

    def delete_choice(
        self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]
    ) -> None:
        """A choice made: that target's confirmation replaces the choice."""
        target = button_value(action, DeleteValue).target()
        what = self.service.describe_delete(who, target)
        replies.private(blocks.delete_confirm(target, what), replace=True)

    def decide(self, decision: str) -> Job:
        def job(action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
            card = button_value(action, RunCard)
            replies.private(blocks.plain(self.service.decide(who, card.run, decision, card.fp)))

        return job

    def rerun(self, *, rollback: bool) -> Job:
        def job(action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
            run = run_id(action, "run `/appprofile deploy` again")
            ticket = self.service.retry(who, run, rollback=rollback)
            what = "Rollback" if rollback else "Retry"
            where = f" (queue position {ticket.queued_position})" if ticket.queued_position else ""
            replies.private(blocks.plain(f"{what} requested as run #{ticket.run_id}{where}."))

        return job

    def upgrade(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        target = button_value(action, UpgradeValue)
        upgrade = self.service.upgrade_from_home if from_home(body) else self.service.upgrade
        self.ctx.deploy_reply(upgrade(who, target.cluster, target.name), replies)

    def revert(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        """Re-apply the deployed version over drift: the clicker's permissions and the cluster's
        approval apply, as for a deploy."""
        target = button_value(action, UpgradeValue)
        self.ctx.deploy_reply(self.service.revert(who, target.cluster, target.name), replies)

    def logs(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        """The clicking person's permissions apply, as for `/appprofile logs`."""
        value = button_value(action, LogsValue)
        run = self.service.run(value.run)
        found = self.service.logs(who, run.deployment, value.tier, run.cluster, run_id=run.id)
        answers.post_logs(replies, found, who.user)

    def view_plan(self, action: dict[str, Any], who: Actor, replies: Replies, body: dict[str, Any]) -> None:
        run = self.service.run(run_id(action, "run the command again for a fresh one"))
        view = plan_view.plan_modal(f"Plan of run #{run.id}", run.plan)
        replies.open_view(str(body.get("trigger_id", "")), view)
