"""A Slack retry or a replay of the very same signed request is acknowledged and not executed
again; a body that is not UTF-8 gets a clear 400 (it used to get 200 and silence)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from sandbox.slack_api import FakeSlack
from tests import rig
from tests.rig import SlackDriver


def _uses(fake: FakeSlack) -> int:
    return sum("current profile" in json.dumps(c.params) for c in fake.calls_to("chat.postMessage"))


@pytest.mark.parametrize("transport", ["slack", "slack_http"])
def test_the_same_signed_request_twice_runs_once(
    transport: str, fake: FakeSlack, request: pytest.FixtureRequest
) -> None:
    # Over HTTP too: the retry headers cross the WSGI layer (HTTP_X_SLACK_RETRY_NUM) first.
    slack: SlackDriver = request.getfixturevalue(transport)
    slack.posted(slack.command("create ```name: once\ntiers: [{name: a, type: redis}]\n```"), "once@1.0.0")
    before = _uses(fake)
    # `use` posts in the channel every time it runs: a visible count of executions.
    body = urlencode(slack.command_body("use once"))
    headers = slack.sign(body)
    first = slack.post(body, headers)
    assert first.status == 200
    slack.posted(first, "current profile")
    again = slack.post(body, headers)  # byte for byte the same, within its five minutes
    assert again.status == 200 and again.body == ""
    later = str(int(headers["X-Slack-Request-Timestamp"]) + 1)
    retry = slack.post(
        body, {**slack.sign(body, later), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retry.status == 200
    # A later command is answered after both: had either run, its post would be there by now.
    last = slack.command("use once")
    slack.posted(last, "current profile")
    slack.answer(slack.command("list"), "once")
    assert _uses(fake) == before + 2  # the first `use` and the last one, nothing in between


def test_a_body_that_is_not_utf8_gets_a_clear_400(slack_http: SlackDriver, fake: FakeSlack) -> None:
    # The WSGI layer refuses it before Bolt (serve.make_wsgi): an HTTP-layer test.
    # Raw bytes, as a broken proxy would send them (the driver itself always sends UTF-8).
    req = urllib.request.Request(
        slack_http.url,
        data=b"command=%2Fappprofile&text=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    with err.value:
        assert err.value.code == 400
        assert b"not UTF-8" in err.value.read()
    assert fake.calls_to("chat.postMessage") == []


def test_a_request_replayed_to_another_replica_is_not_executed_again(
    bot: rig.Bot, fake: FakeSlack, tmp_path: Path
) -> None:
    # A second replica over the same database (as two `appprofile serve` behind a load balancer).
    other = rig.build(tmp_path, fake=fake, db="appprofile.db", work_threads=2)
    try:
        one, two = bot.driver(), other.driver()
        one.posted(one.command("create ```name: twice\ntiers: [{name: a, type: redis}]\n```"), "twice@1.0.0")
        before = _uses(fake)
        body = urlencode(one.command_body("use twice"))
        headers = one.sign(body)
        first = one.post(body, headers)
        one.posted(first, "current profile")
        replayed = two.post(body, headers)  # the very same signed request, to the other replica
        assert replayed.status == 200 and replayed.body == ""
        # A later command on the second replica is answered after the replay would have run.
        two.posted(two.command("use twice"), "current profile")
        assert _uses(fake) == before + 2
    finally:
        other.close()
