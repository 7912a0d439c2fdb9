"""The Bolt app: `/appprofile` commands, button clicks, form submissions and the opening of the
Home tab (`app_home_opened`) → the use cases.

`build_app` makes the App and registers the listeners of `bot.slack.listeners` (slash command,
buttons, forms). Every listener acks at once; the work runs on the caller's executor and answers
through the Web API (channel messages) or the `response_url` (replies only the person sees).
Failures are shown as the error tree says (`bot.core.errors.shown`, through
`bot.slack.failures`): a `UserError` or a `DeployError` as its message and hint, an
`OperatorError` or a bug as an incident id only, logged in full. Whatever still escapes a
listener reaches Bolt's error handler, which does the same.
"""

from __future__ import annotations

import concurrent.futures
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.core.errors import OperatorError
from bot.core.ports import HomeScreen
from bot.slack import action_ids, failures, replay
from bot.slack.failures import new_incident as new_incident
from bot.slack.home import SlackHome
from bot.slack.listeners import buttons, forms, home, pages, slash
from bot.slack.listeners.context import Context
from bot.slack.listeners.jobs import Jobs, deliver
from bot.slack.listeners.replies import kwargs

if TYPE_CHECKING:
    from bot.usecases.service import Service

log = logging.getLogger(__name__)

COMMAND = slash.COMMAND
APPROVE_ACTION = action_ids.APPROVE_ACTION
REJECT_ACTION = action_ids.REJECT_ACTION
RETRY_ACTION = action_ids.RETRY_ACTION
ROLLBACK_ACTION = action_ids.ROLLBACK_ACTION
SLACK_API = "https://slack.com/api/"


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that retries rate limits (Retry-After), 5xx answers and dropped connections."""
    url = base_url or SLACK_API
    if not url.endswith("/"):
        url += "/"  # slack_sdk appends the method name to base_url as is
    return WebClient(
        token=token,
        base_url=url,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(
    service: Service,
    *,
    client: WebClient,
    signing_secret: str,
    executor: concurrent.futures.Executor,
    seen: replay.SeenRequests | None = None,
    home_screen: HomeScreen | None = None,
) -> App:
    """The App with every listener registered. Slack refusing the bot's token at start-up (Bolt
    checks it with auth.test) is an `OperatorError`."""
    app = _bolt_app(client, signing_secret)
    # After Bolt's signature check: a retry or a replayed signed request is acked, not run again.
    app.use(replay.middleware(seen or replay.MemorySeen()))
    app.error(on_error)
    ctx = Context(service=service, jobs=Jobs(executor), home=home_screen or SlackHome(client))
    slash.register(app, ctx)
    buttons.register(app, ctx)
    pages.register(app, ctx)
    forms.register(app, ctx)
    home.register(app, ctx)
    return app


def _bolt_app(client: WebClient, signing_secret: str) -> App:
    try:
        return App(client=client, signing_secret=signing_secret, raise_error_for_unhandled_request=False)
    except BoltError as exc:
        cause = exc.__context__
        error = failures.slack_error(cause) if isinstance(cause, SlackApiError) else str(exc)
        raise OperatorError(
            f"Slack did not accept the bot token ({error})",
            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
        ) from exc
    except OSError as exc:
        raise OperatorError(
            f"Slack could not be reached to check the bot token ({exc.strerror or exc})",
            "check the network path to Slack (proxy, firewall) and SLACK_API_URL",
        ) from exc


def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
    """What escaped a listener before it handed its work to a job: logged and shown as the
    tree says, to the person's response_url when the request has one."""
    msg = failures.report(error, f"a Slack request ({body.get('type') or body.get('command') or '?'})")
    if respond is not None:
        deliver(lambda m: respond(response_type="ephemeral", **kwargs(m)), msg)
