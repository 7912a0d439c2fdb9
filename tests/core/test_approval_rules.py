"""The approval rules as pure functions (the Slack-level tests are in tests/approvals)."""

from __future__ import annotations

import pytest

from bot.core import approvals
from bot.core.errors import Forbidden, UserError
from bot.core.policy import Approval as Rule
from bot.core.records import Approval, Run

RULE = Rule(required=2, approvers=["U1AAA", "U2AAA", "S0LEADS"], self_approval=False)


def run(**kw: object) -> Run:
    base: dict[str, object] = dict(
        id=7,
        cluster="prod",
        deployment="shop",
        profile="p",
        version="1.0.0",
        kind="deploy",
        status="awaiting_approval",
        requested_by="U1AAA",
        channel="C1",
        fingerprint="f" * 64,
        created_at="2030-01-01T00:00:00Z",
        updated_at="2030-01-01T00:00:00Z",
        expires_at="2030-01-01T02:00:00Z",
    )
    return Run.model_validate(base | kw)


def vote(user: str, decision: str = "approve", fp: str = "f" * 64, run_id: int = 7) -> Approval:
    return Approval.model_validate(
        {
            "run_id": run_id,
            "user": user,
            "decision": decision,
            "fingerprint": fp,
            "at": "2030-01-01T00:10:00Z",
        }
    )


def check(
    r: Run, user: str, groups: set[str] | None = None, fp: str = "f" * 64, now: str = "2030-01-01T01:00:00Z"
) -> None:
    approvals.check_decision(RULE, r, user=user, groups=groups or set(), card_fingerprint=fp, now_iso=now)


def test_listed_user_and_group_member_may_decide() -> None:
    check(run(), "U2AAA")
    check(run(), "U9AAA", {"S0LEADS"})


@pytest.mark.parametrize(
    ("r", "user", "kw", "error", "needle"),
    [
        (run(status="running"), "U2AAA", {}, UserError, "no longer waiting"),
        (run(), "U2AAA", {"now": "2030-01-01T03:00:00Z"}, UserError, "expired"),
        (run(), "U2AAA", {"fp": "0" * 64}, UserError, "different plan"),
        (run(), "U9AAA", {}, Forbidden, "not an approver"),
        (run(), "U1AAA", {}, Forbidden, "you requested this deploy"),
    ],
)
def test_refusals(r: Run, user: str, kw: dict[str, str], error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        check(r, user, **kw)  # type: ignore[arg-type]


def test_tally_counts_distinct_people_on_this_fingerprint_only() -> None:
    t = approvals.tally(
        RULE,
        run(),
        [
            vote("U2AAA"),
            vote("U2AAA"),
            vote("U1AAA"),
            vote("U3AAA", fp="0" * 64),
            vote("U4AAA", run_id=8),
            vote("U5AAA"),
        ],
    )
    assert t.approved_by == ["U2AAA", "U5AAA"]
    assert t.outcome == "approved"
    assert approvals.tally(RULE, run(), [vote("U2AAA")]).outcome == "pending"
    assert approvals.tally(RULE, run(), [vote("U2AAA"), vote("U5AAA", "reject")]).outcome == "rejected"


def test_self_approval_counts_when_allowed() -> None:
    rule = RULE.model_copy(update={"self_approval": True, "required": 1})
    approvals.check_decision(
        rule, run(), user="U1AAA", groups=set(), card_fingerprint="f" * 64, now_iso="2030"
    )
    assert approvals.tally(rule, run(), [vote("U1AAA")]).outcome == "approved"
