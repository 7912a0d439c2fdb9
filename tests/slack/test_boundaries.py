"""The Slack adapter's boundary: what escapes is one of the error tree's classes, never a
`slack_sdk` (or `kubernetes`, `urllib3`, `sqlite3`) exception, and what the person sees is the
tree's text — an operator error or a bug as "… (incident …)" only, never a traceback.

Failures are provoked for real: the fake Slack Web API failing a method or refusing a rotated
token, Slack on a closed loopback port, a taken port, a kubeconfig without the cluster's
context, a cluster nobody listens for.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from bot.core.errors import OperatorError, UserError
from bot.kube import connect
from bot.kube.cluster import KubeCluster
from bot.slack import app as slack_app
from bot.slack import serve
from bot.slack.blocks import plain
from bot.slack.groups import UsergroupCache
from bot.slack.listeners.replies import Replies
from bot.usecases.service import Service
from sandbox.slack_api import FakeSlack
from tests import rig
from tests.boundaries import failure_of, in_tree
from tests.slack.conftest import PROFILE_YAML, SlackDriver

# What a person must never see: a traceback, or the name of any exception class.
LEAKS = (
    "Traceback",
    "Error:",
    "OperatorError",
    "SlackApiError",
    "ConfigException",
    "URLError",
    "MaxRetryError",
    "Exception",
)


def text_of(call: Any) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


def create_profile(slack: SlackDriver) -> None:
    reply = slack.command(f"create ```yaml\n{PROFILE_YAML}```")
    slack.posted(reply, "Created counter-app@")


# -- through a signed request -----------------------------------------------------------------------


def _kubeconfig(path: Path) -> str:
    """A readable kubeconfig without the `dev` context the bot's config names for dev-cluster."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "bot", "user": {"token": "kube-token-s3cret"}}],
        "contexts": [{"name": "kind-dev", "context": {"cluster": "sim", "user": "bot"}}],
        "current-context": "kind-dev",
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _bot_on(tmp_path: Path, fake: FakeSlack, cluster: Callable[[str], Any]) -> Iterator[rig.Bot]:
    bot = rig.build(tmp_path / "bot", fake=fake, connect=cluster, db="boundaries.db")
    yield bot
    bot.close()
    rig.check_slack(fake)


@pytest.fixture
def misconfigured(tmp_path: Path, fake: FakeSlack) -> Iterator[SlackDriver]:
    """dev-cluster's guardrails need its API, and its kubeconfig lacks the context (as production
    composes it: the guards connect, then ask discovery)."""
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig")
    for bot in _bot_on(tmp_path, fake, lambda name: connect.from_kubeconfig(name, "dev", kubeconfig)):
        yield bot.http_driver()


def test_an_operator_error_shows_only_misconfigured_and_an_incident(
    misconfigured: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    slack_http = misconfigured
    create_profile(slack_http)
    with caplog.at_level(logging.ERROR):
        reply = slack_http.command("deploy counter-app to dev-cluster")
        assert reply.status == 200
        call = slack_http.answer(reply, "misconfigured")
    text = text_of(call)
    assert call.params["response_type"] == "ephemeral"
    assert "the bot is misconfigured (incident " in text
    assert "an operator has the details" in text
    incident = text.split("(incident ")[1][:8]
    assert len(incident) == 8
    for leak in (*LEAKS, "kubeconfig", "kind-dev", "kube-token-s3cret", "no context"):
        assert leak not in text, leak
    # The operator gets it all, under the same incident id.
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged
    assert "no context `dev`" in logged[0].getMessage()
    assert logged[0].exc_info is not None


@pytest.fixture
def cluster_down(tmp_path: Path, fake: FakeSlack) -> Iterator[SlackDriver]:
    config = k8s_client.Configuration()
    config.host = f"http://127.0.0.1:{closed_port()}"
    config.retries = 0
    kube = KubeCluster(
        "dev-cluster",
        k8s_client.ApiClient(config),
        retries=1,
        backoff=0.01,
        discovery_cache=str(tmp_path / "d.json"),
    )
    for bot in _bot_on(tmp_path, fake, lambda name: kube):
        yield bot.driver()


def test_a_cluster_out_of_reach_shows_the_deploy_error_and_its_hint(cluster_down: SlackDriver) -> None:
    slack = cluster_down
    create_profile(slack)
    reply = slack.command("deploy counter-app to dev-cluster")
    text = text_of(slack.answer(reply, "connection refused"))
    assert "cluster dev-cluster: discover APIs kept failing (connection refused)" in text
    assert "reachable" in text  # the hint
    assert "incident" not in text
    for leak in LEAKS:
        assert leak not in text, leak


def test_a_rotated_bot_token_is_an_operator_error(
    slack: SlackDriver, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    create_profile(slack)
    fake.bot_token = "xoxb-rotated"  # the app still holds the old one: Slack now refuses it
    with caplog.at_level(logging.WARNING):
        reply = slack.command("use counter-app")
        text = text_of(slack.answer(reply, "misconfigured"))
    assert "the bot is misconfigured (incident " in text
    for leak in (*LEAKS, "invalid_auth", "token"):
        assert leak not in text, leak
    messages = [r.getMessage() for r in caplog.records]
    assert "Slack API error: chat.postMessage answered invalid_auth" in messages
    incident = text.split("(incident ")[1][:8]
    assert any(incident in m and "Slack rejected the bot's token" in m for m in messages)


def test_slack_failing_a_reply_tells_the_person_to_try_again(
    slack: SlackDriver, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("chat.postMessage", status=500, times=3)  # more than the client's 2 retries
    with caplog.at_level(logging.WARNING):
        reply = slack.command(f"create ```yaml\n{PROFILE_YAML}```")
        text = text_of(slack.answer(reply, "Slack rejected"))
    assert "Slack rejected the reply (internal_error)" in text
    assert "try again" in text
    assert "incident" not in text
    for leak in LEAKS:
        assert leak not in text, leak
    assert "Slack API error: chat.postMessage answered internal_error" in [
        r.getMessage() for r in caplog.records
    ]


def test_slack_failing_to_open_a_form_tells_the_person_to_try_again(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    fake.fail_next("views.open", status=503, times=3)
    reply = slack.command("create")
    text = text_of(slack.answer(reply, "Slack rejected"))
    assert "Slack rejected the reply (internal_error)" in text


def test_a_form_that_is_not_ours_shows_an_incident_on_the_form(slack: SlackDriver) -> None:
    view = {
        "type": "modal",
        "callback_id": "appprofile_create",
        "private_metadata": "not ours",
        "blocks": [{"type": "input", "block_id": "yaml", "element": {"type": "plain_text_input"}}],
    }
    reply = slack.submit(view, {"yaml": PROFILE_YAML})
    assert reply.status == 200
    answer = reply.json()
    assert answer["response_action"] == "errors"
    shown = answer["errors"]["yaml"]
    assert shown.startswith("internal error (incident ")
    for leak in (*LEAKS, "private_metadata", "RuntimeError"):
        assert leak not in shown, leak


def test_the_bolt_error_handler_shows_an_incident_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    said: list[dict[str, Any]] = []

    def respond(**kwargs: Any) -> None:
        said.append(kwargs)

    with caplog.at_level(logging.ERROR):
        slack_app.on_error(RuntimeError("password=hunter2"), {"type": "block_actions"}, respond)
    assert len(said) == 1
    assert said[0]["response_type"] == "ephemeral"
    shown = json.dumps(said[0])
    assert "internal error (incident " in shown
    for leak in (*LEAKS, "RuntimeError", "hunter2", "password"):
        assert leak not in shown, leak
    incident = shown.split("(incident ")[1][:8]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)


# -- at the adapter's edge ----------------------------------------------------------------------------


def test_web_api_refusals_leave_as_the_trees_classes(fake: FakeSlack) -> None:
    good = slack_app.make_client(fake.bot_token, fake.base_url)
    stale = slack_app.make_client("xoxb-stale", fake.base_url)
    nobody = slack_app.make_client(fake.bot_token, f"http://127.0.0.1:{closed_port()}/api/")

    def replies(client: Any) -> Replies:
        return Replies(client, lambda **_: None, "C111")

    in_tree(failure_of(lambda: replies(stale).public(plain("hi"))), OperatorError)
    fake.fail_next("chat.postMessage", status=500, times=3)
    failed = in_tree(failure_of(lambda: replies(good).public(plain("hi"))), UserError)
    assert failed.message == "Slack rejected the reply (internal_error)"
    fake.fail_next("views.open", status=500, times=3)
    in_tree(failure_of(lambda: replies(good).open_view("111.1.abc", {"type": "modal"})), UserError)
    unreachable = in_tree(failure_of(lambda: replies(nobody).public(plain("hi"))), UserError)
    assert "Slack could not be reached" in unreachable.message


def test_a_bot_token_slack_refuses_at_start_is_an_operator_error(fake: FakeSlack, service: Service) -> None:
    def build(client: Any) -> object:
        return slack_app.build_app(service, client=client, signing_secret="s", executor=_NoExecutor())

    refused = in_tree(
        failure_of(lambda: build(slack_app.make_client("xoxb-wrong", fake.base_url))), OperatorError
    )
    assert "invalid_auth" in refused.message
    nobody = slack_app.make_client("xoxb-x", f"http://127.0.0.1:{closed_port()}/api/")
    in_tree(failure_of(lambda: build(nobody)), OperatorError)


class _NoExecutor:
    def submit(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing runs")


def test_usergroups_fail_closed_on_every_slack_failure(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    stale = UsergroupCache(slack_app.make_client("xoxb-stale", fake.base_url), ["S0LEADS"], ttl=0)
    nobody = UsergroupCache(
        slack_app.make_client(fake.bot_token, f"http://127.0.0.1:{closed_port()}/api/"), ["S0LEADS"], ttl=0
    )
    with caplog.at_level(logging.WARNING):
        assert stale("U0LEAD") == set()
        assert nobody("U0LEAD") == set()
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "appprofile.slack.groups"]
    assert logged[0] == (
        logging.ERROR,
        "cannot read usergroup S0LEADS: Slack rejected the bot's token (invalid_auth)",
    )
    assert logged[1][0] == logging.WARNING
    assert "Connection refused" in logged[1][1]


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as s:
        yield int(s.getsockname()[1])


def test_a_taken_port_is_an_operator_error(taken: int, bolt: Any) -> None:
    health = in_tree(failure_of(lambda: serve.serve_health(taken, "127.0.0.1")), OperatorError)
    assert f"cannot listen on 127.0.0.1:{taken}" in health.message
    in_tree(failure_of(lambda: serve.serve_http(bolt, taken, "127.0.0.1")), OperatorError)


def test_an_app_token_slack_refuses_is_an_operator_error(bolt: Any) -> None:
    err = in_tree(failure_of(lambda: serve.serve_socket(bolt, "xapp-wrong")), OperatorError)
    assert "invalid_auth" in err.message
    assert "SLACK_APP_TOKEN" in (err.hint or "")
