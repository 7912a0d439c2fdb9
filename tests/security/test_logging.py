"""Log lines: JSON on stderr, Slack tokens scrubbed, and no profile secret at any level."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from bot import main
from bot.kube.cluster import _api_message
from bot.settings import Settings
from sandbox.slack_api import FakeSlack
from tests.rig import SlackDriver
from tests.security.secrets_data import PROFILE, leaked

BOT_TOKEN = "xoxb-1111-2222-SeCrEtBoTtOkEn"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
APP_TOKEN = "xapp-1-A111-333-AppLevelToken"
SEALING_KEY = "q1Z0b4mNbE9yQm5iR0c4b3JxY1dKVmJqZ2dzWlR2UXE="
ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "APPPROFILE_SECRET_KEY": SEALING_KEY,
}


def test_json_formatter_scrubs_slack_tokens_from_messages_extras_and_tracebacks() -> None:
    fmt = main.JsonFormatter([ENV[k] for k in main.SECRET_ENV])
    try:
        raise RuntimeError(f"auth failed for {BOT_TOKEN} / {APP_TOKEN}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "appprofile", logging.ERROR, __file__, 1, "token %s secret %s", (BOT_TOKEN, SIGNING), exc_info
    )
    record.user = BOT_TOKEN  # an extra that is copied into the line
    line = main.JsonFormatter.format(fmt, record)
    json.loads(line)
    for secret in ENV.values():
        assert secret not in line
    assert "[redacted]" in line


def test_settings_repr_is_not_logged_with_tokens() -> None:
    # Settings is a plain dataclass: its repr holds the tokens. Nothing logs it today; the formatter
    # would scrub them anyway. This pins that the scrub covers what repr() shows.
    s = Settings.from_env(ENV)
    fmt = main.JsonFormatter([ENV[k] for k in main.SECRET_ENV])
    record = logging.LogRecord("appprofile", logging.INFO, __file__, 1, "settings %r", (s,), None)
    line = fmt.format(record)
    assert all(v not in line for v in ENV.values())


def test_kube_adapter_hides_values_the_api_quotes_for_a_secret() -> None:
    from kubernetes.client.exceptions import ApiException

    exc = ApiException(status=422, reason="Unprocessable Entity")
    exc.body = json.dumps(
        {
            "message": 'Secret "x-credentials" is invalid: stringData[password]: Invalid value: "Pg-Pa55word-Zx81q": bad',
            "details": {
                "causes": [{"field": "stringData[password]", "message": 'Invalid value: "Pg-Pa55word-Zx81q"'}]
            },
        }
    )
    assert "Pg-Pa55word-Zx81q" not in _api_message(exc, secret=True)


def test_slash_command_with_secrets_at_info_logs_nothing_secret(
    slack: SlackDriver, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    since = len(fake.calls)
    slack.command(f"create ```{PROFILE}```")
    fake.wait_for("chat.postMessage", lambda c: "Created" in json.dumps(c.params), since=since)
    slack.command("show vault-app")
    slack.command("diff vault-app 1.0.0 1.0.0")
    fake.wait_for("chat.postMessage", lambda c: "identical" in json.dumps(c.params), since=since)
    assert leaked(caplog.text) == []


def test_debug_logging_of_the_version_form_has_no_secret(
    slack: SlackDriver, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    since = len(fake.calls)
    slack.command(f"create ```{PROFILE}```")
    fake.wait_for("chat.postMessage", lambda c: "Created" in json.dumps(c.params), since=since)
    caplog.set_level(logging.DEBUG)
    since = len(fake.calls)
    slack.command("version vault-app")
    fake.wait_for("views.open", since=since)
    assert leaked(caplog.text) == []
