"""The Slack adapter's error boundary: Web API failures into the error tree, any failure into a reply.

`web_api` wraps every Web API call a listener makes: a `SlackApiError` is logged as a Slack API
error with its method and becomes an `OperatorError` when Slack rejected the bot's token or
scopes, else a `UserError` ("Slack rejected the reply (…)", try again); Slack out of reach
(`OSError`) becomes "Slack could not be reached". `report` turns whatever a listener raised into
the message the person sees (`errors.shown`) and logs operator errors and bugs, in full, under
an incident id; the person never sees a traceback, an exception's name or a bug's message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot import api_errors
from bot.core import commands, errors
from bot.core.errors import AppError, OperatorError, UserError
from bot.slack import blocks
from bot.slack.blocks import Message

log = logging.getLogger("bot.slack")

_T = TypeVar("_T")

# Web API errors that mean the bot's token or the app's configuration, not this one reply.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)


def new_incident() -> str:
    return uuid.uuid4().hex[:8]


def slack_method(exc: SlackApiError) -> str:
    """`chat.postMessage`: the Web API method that answered, from the URL it was sent to."""
    url = str(getattr(exc.response, "api_url", "") or "")
    return url.rstrip("/").rsplit("/", 1)[-1] or "the Web API"


def slack_error(exc: SlackApiError) -> str:
    response = exc.response
    error = response.get("error") if hasattr(response, "get") else None
    return str(error or f"HTTP {getattr(response, 'status_code', '?')}")


def from_slack(exc: SlackApiError) -> AppError:
    """A Web API refusal in the tree; logged here as a Slack API error with its method."""
    method, error = slack_method(exc), slack_error(exc)
    log.warning("Slack API error: %s answered %s", method, error)
    api_errors.count("slack", error)
    if error in TOKEN_ERRORS:
        return OperatorError(
            f"Slack rejected the bot's token or scopes calling {method} ({error})",
            "check SLACK_BOT_TOKEN and that the app has the scopes in manifest.yml",
        )
    return UserError(f"Slack rejected the reply ({error})", "try again")


def unreachable(exc: OSError) -> UserError:
    reason = getattr(exc, "reason", None) or exc.strerror or "network error"
    log.warning("Slack API unreachable: %s", reason)
    api_errors.count("slack", "unreachable")
    return UserError(f"Slack could not be reached ({reason})", "try again in a moment")


def web_api(call: Callable[[], _T]) -> _T:
    """One Web API call; what it raises leaves as one of the tree's errors."""
    try:
        return call()
    except SlackApiError as exc:
        raise from_slack(exc) from exc
    except OSError as exc:  # URLError, refused, timed out (after the client's own retries)
        raise unreachable(exc) from exc


def _offers_help(exc: BaseException) -> bool:
    return isinstance(exc, commands.UnknownCommand | commands.MissingArguments)


def explain(exc: BaseException, what: str) -> errors.Shown:
    """What a failure in `what` shows; operator errors and bugs are logged with an incident id."""
    if isinstance(exc, SlackApiError):
        exc = from_slack(exc)
    seen = errors.shown(exc, new_incident)
    if seen.kind == "operator":
        log.error(
            "incident %s: %s failed: the bot is misconfigured: %s", seen.incident, what, exc, exc_info=exc
        )
    elif seen.log:
        log.error("incident %s: %s failed", seen.incident, what, exc_info=exc)
    return seen


def report(exc: BaseException, what: str, *, help_button: bool = False) -> Message:
    """The reply for a failure in `what` (logged as `explain` says)."""
    seen = explain(exc, what)
    return message(seen, exc, help_button=help_button)


def message(seen: errors.Shown, exc: BaseException, *, help_button: bool = False) -> Message:
    """A user error as the person's mistake (with its hint); an incident as its id only."""
    if seen.incident is not None:
        icon = f":rotating_light: {blocks.escape(seen.text)}"
        return Message(text=seen.text, blocks=[blocks.section(icon)])
    err = exc if isinstance(exc, UserError) else UserError(seen.text, seen.hint)
    return blocks.user_error(err, help_button=help_button and _offers_help(exc))


def form_text(seen: errors.Shown) -> str:
    """One line for a form's inline error (Slack shows it under the input)."""
    text = seen.text if not seen.hint else f"{seen.text} — {seen.hint}"
    return text[:1500]
