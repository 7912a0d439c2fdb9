"""`app_home_opened`: the person opened the app's Home tab, so their Home is published at once.

Slack sends the event for the Messages tab too (`tab: "messages"`); nothing is published then.
Bolt acks events itself; the view is built and published as a job, and what fails there is
logged only (an event has nobody to answer).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.slack import failures
from bot.slack.listeners.context import Context


def register(app: App, ctx: Context) -> None:
    @app.event("app_home_opened")
    def on_home_opened(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        user = str(event.get("user") or "")
        if event.get("tab") != "home" or not user:
            return
        ctx.jobs.executor.submit(opened, ctx, user)


def opened(ctx: Context, user: str) -> None:
    try:
        view = ctx.service.open_home(user)
        if ctx.home is not None:
            ctx.home.show(view, at_once=True)
    except Exception as exc:
        failures.explain(exc, "opening the Home tab")
