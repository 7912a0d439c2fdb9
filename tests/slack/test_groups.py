"""Usergroup membership: read from `usergroups.users.list`, cached for `ttl`, failing closed."""

from __future__ import annotations

import logging

import pytest

from bot.slack import app as slack_app
from bot.slack.groups import UsergroupCache
from sandbox.slack_api import FakeSlack

GROUPS_LOGGER = "appprofile.slack.groups"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(fake: FakeSlack, groups: list[str], clock: Clock, ttl: float = 60.0) -> UsergroupCache:
    client = slack_app.make_client(fake.bot_token, fake.base_url)
    return UsergroupCache(client, groups, ttl=ttl, clock=clock)


def lookups(fake: FakeSlack) -> list[str]:
    """The usergroups Slack was asked about, in order (every call, answered or failed)."""
    return [str(c.params.get("usergroup")) for c in fake.calls_to("usergroups.users.list")]


def test_membership_comes_from_slack(fake: FakeSlack) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD", "U0AAA"])
    fake.set_usergroup("S0OPS", ["U0AAA"])
    groups_of = cache(fake, ["S0LEADS", "S0OPS"], Clock())
    assert groups_of("U0AAA") == {"S0LEADS", "S0OPS"}
    assert groups_of("U0LEAD") == {"S0LEADS"}
    assert groups_of("U0OUT") == set()
    assert sorted(lookups(fake)) == ["S0LEADS", "S0OPS"]


def test_a_lookup_within_ttl_is_answered_from_the_cache(fake: FakeSlack) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    clock = Clock()
    groups_of = cache(fake, ["S0LEADS"], clock, ttl=60.0)
    assert groups_of("U0LEAD") == {"S0LEADS"}
    assert lookups(fake) == ["S0LEADS"]

    # Slack changed, but within the ttl the cached answer stands and Slack is not asked.
    fake.set_usergroup("S0LEADS", ["U0NEW"])
    clock.now += 59.0
    assert groups_of("U0LEAD") == {"S0LEADS"}
    assert groups_of("U0NEW") == set()
    assert lookups(fake) == ["S0LEADS"]


def test_after_ttl_membership_is_read_again(fake: FakeSlack) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    clock = Clock()
    groups_of = cache(fake, ["S0LEADS"], clock, ttl=60.0)
    assert groups_of("U0LEAD") == {"S0LEADS"}

    fake.set_usergroup("S0LEADS", ["U0NEW"])  # U0LEAD was removed from the group
    clock.now += 60.0
    assert groups_of("U0LEAD") == set()
    assert groups_of("U0NEW") == {"S0LEADS"}
    assert lookups(fake) == ["S0LEADS", "S0LEADS"]


def test_only_usergroup_ids_are_looked_up(fake: FakeSlack) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    # Access lists and approver lists mix user ids, "*" and usergroup ids; only S… are groups.
    groups_of = cache(fake, ["U0LEAD", "W0ENT", "*", "S0LEADS"], Clock())
    assert groups_of("U0LEAD") == {"S0LEADS"}
    assert groups_of("W0ENT") == set()
    assert lookups(fake) == ["S0LEADS"]
    assert fake.calls_to("usergroups.users.list")[0].ok


def test_an_unknown_usergroup_grants_nothing_and_is_logged(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    groups_of = cache(fake, ["S0GONE", "S0LEADS"], Clock())
    with caplog.at_level(logging.WARNING, logger=GROUPS_LOGGER):
        assert groups_of("U0LEAD") == {"S0LEADS"}
        assert groups_of("U0ANY") == set()

    failed = [c for c in fake.calls_to("usergroups.users.list") if c.params.get("usergroup") == "S0GONE"]
    assert len(failed) == 1 and failed[0].error == "no_such_subteam"
    warnings = [r.getMessage() for r in caplog.records if r.name == GROUPS_LOGGER]
    assert warnings == ["cannot read usergroup S0GONE: no_such_subteam"]


def test_a_slack_outage_grants_nothing_until_the_group_is_read_again(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_usergroup("S0LEADS", ["U0LEAD"])
    clock = Clock()
    groups_of = cache(fake, ["S0LEADS"], clock, ttl=60.0)
    # More 500s than the client retries (make_client: 2 retries on 5xx).
    fake.fail_next("usergroups.users.list", status=500, times=3)
    with caplog.at_level(logging.WARNING, logger=GROUPS_LOGGER):
        assert groups_of("U0LEAD") == set()
    assert [c.status for c in fake.calls_to("usergroups.users.list")] == [500, 500, 500]
    assert [r.getMessage() for r in caplog.records if r.name == GROUPS_LOGGER] == [
        "cannot read usergroup S0LEADS: internal_error"
    ]

    clock.now += 60.0
    assert groups_of("U0LEAD") == {"S0LEADS"}
    assert fake.calls_to("usergroups.users.list")[-1].ok


def test_slack_unreachable_grants_nothing_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    dead = FakeSlack().start()
    url = dead.base_url
    dead.stop()
    client = slack_app.make_client("xoxb-test-token", url)
    cache = UsergroupCache(client, ["S0LEADS"], ttl=60)
    with caplog.at_level(logging.WARNING, logger="appprofile.slack.groups"):
        assert cache("U0LEAD") == set()
    assert "cannot read usergroup S0LEADS" in caplog.text
