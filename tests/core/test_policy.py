"""APPPROFILE_CONFIG: validated at start with precise errors; access and channel rules."""

from __future__ import annotations

import pytest

from bot.core import policy
from bot.core.errors import Forbidden, NotFound, UserError

GOOD = """
clusters:
  dev-cluster: {context: kind-dev}
  prod:
    context: prod-admin
    channels: [C0PROD]
    approval: {required: 2, approvers: [U1AAAA, U2BBBB, S0LEADS], self_approval: false, expires_after: 2h}
  here: {in_cluster: true}
access:
  create: ["*"]
  deploy: [U1AAAA, S0DEPLOY]
"""


def test_good_config_loads() -> None:
    cfg = policy.load(GOOD)
    prod = cfg.cluster("prod")
    assert prod.approval is not None
    assert prod.approval.expires_after == 7200
    assert cfg.cluster("here").in_cluster


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("clusters: [a]", "clusters"),
        ("- a", "must be a mapping"),
        ("clusters: {Prod: {}}", "DNS label"),
        ("clusters: {p: {context: a, in_cluster: true}}", "not both"),
        ("clusters: {p: {approval: {required: 3, approvers: [U1AAAA]}}}", "only 1 approvers"),
        ("clusters: {p: {approval: {approvers: [bob]}}}", "Slack user id"),
        ("clusters: {p: {approval: {approvers: ['*']}}}", "Slack user id"),
        ("clusters: {p: {approval: {approvers: [U1AAAA], expires_after: soon}}}", "not a duration"),
        ("clusters: {p: {approval: {approvers: [U1AAAA], expires_after: 10s}}}", "between 1m and 7d"),
        ("clusters: {p: {colour: red}}", "unknown field `colour`"),
        ("access: {deploy: [bob]}", "access.deploy"),
        ("access: {launch: ['*']}", "access.launch"),
        ("clusters: {p: [", "not valid YAML"),
    ],
)
def test_bad_configs_say_which_field(text: str, needle: str) -> None:
    with pytest.raises(UserError) as err:
        policy.load(text)
    assert needle in str(err.value)


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("1h30m", 5400), ("1d", 86400), ("45s", 45)])
def test_durations(text: str, seconds: int) -> None:
    assert policy.parse_duration(text) == seconds


def test_unknown_cluster_lists_the_known_ones() -> None:
    cfg = policy.load(GOOD)
    with pytest.raises(NotFound) as err:
        cfg.cluster("prd")
    assert "did you mean `prod`" in str(err.value) and "dev-cluster" in str(err.value)
    with pytest.raises(NotFound, match="no clusters are configured"):
        policy.Config().cluster("x")


def test_access_by_user_group_and_star() -> None:
    cfg = policy.load(GOOD)
    policy.check_action(cfg, "create", "U9ZZZZ", set())
    policy.check_action(cfg, "deploy", "U1AAAA", set())
    policy.check_action(cfg, "deploy", "U9ZZZZ", {"S0DEPLOY"})
    with pytest.raises(Forbidden, match="not allowed to deploy"):
        policy.check_action(cfg, "deploy", "U9ZZZZ", {"S0OTHER"})


def test_an_action_missing_from_access_is_allowed_to_nobody() -> None:
    cfg = policy.load(GOOD)
    with pytest.raises(Forbidden) as err:
        policy.check_action(cfg, "delete", "U1AAAA", set())
    assert "nobody may delete yet" in err.value.message
    assert 'delete: ["*"]' in (err.value.hint or "")


def test_without_an_access_section_everyone_may_do_everything() -> None:
    cfg = policy.load("clusters: {dev: {context: d}}")
    for action in policy.ACTIONS:
        policy.check_action(cfg, action, "U9ZZZZ", set())


def test_channel_restriction() -> None:
    cfg = policy.load(GOOD)
    policy.check_channel(cfg, "prod", "C0PROD")
    policy.check_channel(cfg, "dev-cluster", "C0ANY")
    with pytest.raises(Forbidden) as err:
        policy.check_channel(cfg, "prod", "C0DEV")
    assert "<#C0PROD>" in str(err.value)
