"""Change windows (issue 12): the `deny` syntax, containment at the edges, when deploys open
again, the refusal, the override's extra approver, DST through `SystemClock.local`, and how the
config reports a bad window."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli
from bot.clock import SystemClock, known_timezone, local_time
from bot.core import approvals, policy, windows
from bot.core.errors import NotFound, OperatorError, UserError
from bot.core.ports import LocalTime
from bot.core.records import Approval, Run
from bot.core.windows import Span, Window

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def at(weekday: int, hhmm: str) -> LocalTime:
    h, m = hhmm.split(":")
    return LocalTime(weekday=weekday, minute=int(h) * 60 + int(m))


def fixed(now: LocalTime) -> Callable[[str], LocalTime]:
    return lambda _zone: now


# -- the `deny` syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "canonical"),
    [
        ("Fri 16:00 - Mon 08:00", Span(FRI, 960, MON, 480), "Fri 16:00 - Mon 08:00"),
        ("fri 16:00-MON 8:00", Span(FRI, 960, MON, 480), "Fri 16:00 - Mon 08:00"),
        ("  Sun   23:30 \u2013 mon 00:30 ", Span(SUN, 1410, MON, 30), "Sun 23:30 - Mon 00:30"),
        ("Mon 09:00 - Mon 17:00", Span(MON, 540, MON, 1020), "Mon 09:00 - Mon 17:00"),
        ("Mon 08:00 - Mon 07:59", Span(MON, 480, MON, 479), "Mon 08:00 - Mon 07:59"),
        ("22:00 - 06:00", Span(None, 1320, None, 360), "22:00 - 06:00"),
        ("9:00-17:30", Span(None, 540, None, 1050), "09:00 - 17:30"),
        ("00:00 - 23:59", Span(None, 0, None, 1439), "00:00 - 23:59"),
    ],
)
def test_valid_ranges_parse_to_one_canonical_text(text: str, span: Span, canonical: str) -> None:
    assert windows.parse_span(text) == span
    assert span.text == canonical
    assert Window(deny=text).deny == canonical
    assert span.daily is (span.start_day is None)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("Fry 16:00 - Mon 08:00", "`Fry` is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun"),
        ("Friday 16:00 - Mon 08:00", "`Friday` is not a day: write it as `Fri`"),
        ("Fri 25:00 - Mon 08:00", "`25:00` is not a time of day: write it as HH:MM, 00:00 to 23:59"),
        ("Fri 16:60 - Mon 08:00", "`16:60` is not a time of day"),
        ("Fri 4pm - Mon 08:00", "`4pm` is not a time of day"),
        ("22:00 - 24:00", "(24:00 is 00:00 of the next day)"),
        ("Fri 16:00 - 08:00", "has a day on one side only: give a day on both sides"),
        ("16:00 - Mon 08:00", "or on neither (`16:00 - 08:00`, every day)"),
        ("Fri 16:00", "`Fri 16:00` is not a range: write it as `Fri 16:00 - Mon 08:00`"),
        ("Fri - Mon", "`Fri - Mon` has a day without a time"),
        ("Fri 16:00 - Sat 10:00 - Mon 08:00", "is not a range"),
        ("", "is not a range"),
        ("on Fri 16:00 - Mon 08:00", "is not a range"),
        ("Mon 08:00 - Mon 08:00", "ends where it starts: a window needs a length"),
        ("08:00 - 08:00", "ends where it starts"),
    ],
)
def test_bad_ranges_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        windows.parse_span(text)


# -- containment: start inclusive, end exclusive, wrapping ------------------------------------


@pytest.mark.parametrize(
    ("deny", "now", "inside"),
    [
        # Fri 16:00 - Mon 08:00 wraps past Sunday.
        ("Fri 16:00 - Mon 08:00", at(FRI, "15:59"), False),
        ("Fri 16:00 - Mon 08:00", at(FRI, "16:00"), True),
        ("Fri 16:00 - Mon 08:00", at(SAT, "12:00"), True),
        ("Fri 16:00 - Mon 08:00", at(SUN, "23:59"), True),
        ("Fri 16:00 - Mon 08:00", at(MON, "00:00"), True),
        ("Fri 16:00 - Mon 08:00", at(MON, "07:59"), True),
        ("Fri 16:00 - Mon 08:00", at(MON, "08:00"), False),
        ("Fri 16:00 - Mon 08:00", at(WED, "12:00"), False),
        # Within one day, no wrap.
        ("Mon 09:00 - Mon 17:00", at(MON, "09:00"), True),
        ("Mon 09:00 - Mon 17:00", at(MON, "17:00"), False),
        ("Mon 09:00 - Mon 17:00", at(TUE, "10:00"), False),
        # Nearly the whole week: only Mon 07:59 is open.
        ("Mon 08:00 - Mon 07:59", at(MON, "07:59"), False),
        ("Mon 08:00 - Mon 07:59", at(MON, "07:58"), True),
        # Daily, wrapping midnight, on any day.
        ("22:00 - 06:00", at(THU, "22:00"), True),
        ("22:00 - 06:00", at(SUN, "23:59"), True),
        ("22:00 - 06:00", at(MON, "00:00"), True),
        ("22:00 - 06:00", at(TUE, "05:59"), True),
        ("22:00 - 06:00", at(TUE, "06:00"), False),
        ("22:00 - 06:00", at(TUE, "21:59"), False),
        ("12:00 - 13:00", at(SAT, "12:30"), True),
        ("12:00 - 13:00", at(SAT, "13:00"), False),
    ],
)
def test_containment_at_the_edges(deny: str, now: LocalTime, inside: bool) -> None:
    assert windows.parse_span(deny).contains(now.weekday, now.minute) is inside
    found = windows.blocking([Window(deny=deny)], fixed(now), cluster="prod")
    assert (found is not None) is inside


# -- when deploys open again --------------------------------------------------------------------


def test_block_names_the_rule_and_when_it_opens() -> None:
    rules = [
        Window(deny="Wed 10:00 - Wed 11:00", timezone="Europe/Berlin"),
        Window(deny="Fri 16:00 - Mon 08:00", timezone="Europe/Berlin"),
    ]
    block = windows.blocking(rules, fixed(at(FRI, "17:00")), cluster="prod")
    assert block is not None
    assert block.index == 1 and block.window == rules[1]
    assert block.rule == "clusters.prod.windows[1]"
    assert block.opens_in == 63 * 60
    assert block.opens_at == "Mon 08:00"
    assert block.opens == "Mon 08:00 Europe/Berlin, in 2 d 15 h"


def test_open_means_no_block() -> None:
    rules = [Window(deny="Fri 16:00 - Mon 08:00")]
    assert windows.blocking(rules, fixed(at(TUE, "10:00")), cluster="prod") is None
    assert windows.blocking([], fixed(at(TUE, "10:00")), cluster="prod") is None


def test_each_window_is_read_in_its_own_time_zone_asked_once_per_zone() -> None:
    asked: list[str] = []
    times = {"UTC": at(FRI, "15:30"), "Europe/Berlin": at(FRI, "16:30")}

    def local(zone: str) -> LocalTime:
        asked.append(zone)
        return times[zone]

    rules = [
        Window(deny="Fri 16:00 - Mon 08:00"),
        Window(deny="Sat 00:00 - Sun 00:00"),
        Window(deny="Fri 16:00 - Mon 08:00", timezone="Europe/Berlin"),
    ]
    block = windows.blocking(rules, local, cluster="prod")
    assert block is not None and block.rule == "clusters.prod.windows[2]"
    assert block.now == times["Europe/Berlin"]
    assert block.opens == "Mon 08:00 Europe/Berlin, in 2 d 15 h"
    assert asked == ["UTC", "Europe/Berlin"]


def test_windows_that_continue_each_other_open_when_the_last_ends() -> None:
    rules = [
        Window(deny="Fri 16:00 - Sat 00:00"),
        Window(deny="22:00 - 06:00"),
        Window(deny="Sat 00:00 - Mon 02:00"),
        Window(deny="Mon 08:00 - Mon 09:00"),  # after a gap: not part of it
    ]
    block = windows.blocking(rules, fixed(at(FRI, "17:00")), cluster="prod")
    assert block is not None and block.index == 0
    # Fri 16:00 → Sat 00:00 → Mon 02:00 → (22:00-06:00 daily) Mon 06:00.
    assert block.opens == "Mon 06:00 UTC, in 2 d 13 h"


def test_a_window_of_another_zone_does_not_continue_one() -> None:
    rules = [Window(deny="10:00 - 12:00"), Window(deny="12:00 - 14:00", timezone="Asia/Tokyo")]
    block = windows.blocking(rules, fixed(at(MON, "11:00")), cluster="dev")
    assert block is not None and block.opens == "Mon 12:00 UTC, in 1 h"


def test_windows_covering_the_whole_week_never_open() -> None:
    rules = [Window(deny="Mon 00:00 - Thu 00:00"), Window(deny="Thu 00:00 - Mon 00:00")]
    block = windows.blocking(rules, fixed(at(TUE, "10:00")), cluster="prod")
    assert block is not None
    assert block.opens_in is None and block.opens_at is None
    assert block.opens == "never: the windows of `prod` in UTC cover the whole week"
    err = windows.refusal(block)
    assert err.message == (
        "deploys to `prod` are closed by a change window (Mon 00:00 - Thu 00:00 UTC) "
        "that does not open: the windows of `prod` in UTC cover the whole week"
    )
    assert err.hint == (
        "add `--override-window`: the approval then needs one more approver than usual "
        "(clusters.prod.windows[0] in APPPROFILE_CONFIG), or ask a platform admin to leave a gap "
        "in clusters.prod.windows"
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (1, "1 min"),
        (45, "45 min"),
        (60, "1 h"),
        (200, "3 h 20 min"),
        (1440, "1 d"),
        (63 * 60 + 30, "2 d 15 h"),
        (6 * 1440 + 23 * 60 + 59, "6 d 23 h"),
    ],
)
def test_duration_text(minutes: int, text: str) -> None:
    assert windows.duration_text(minutes) == text


# -- the refusal, the override and the card -----------------------------------------------------

PROD = """
clusters:
  prod:
    context: p
    approval: {required: 2, approvers: [U1AAAA, U2BBBB, U3CCCC]}
    windows:
      - {deny: "Fri 16:00 - Mon 08:00", timezone: Europe/Berlin}
  bare:
    windows: [{deny: "Fri 16:00 - Mon 08:00"}]
  tight:
    approval: {required: 2, approvers: [U1AAAA, U2BBBB]}
    windows: [{deny: "Fri 16:00 - Mon 08:00"}]
  open: {context: o}
"""
FRIDAY_EVENING = fixed(at(FRI, "17:00"))


def test_refusal_names_the_window_when_it_opens_and_how_to_override() -> None:
    cfg = policy.load(PROD)
    with pytest.raises(windows.WindowClosed) as err:
        policy.check_window(cfg, "prod", FRIDAY_EVENING, override=False)
    assert err.value.message == (
        "deploys to `prod` are closed by a change window (Fri 16:00 - Mon 08:00 Europe/Berlin) "
        "until Mon 08:00 Europe/Berlin, in 2 d 15 h"
    )
    assert err.value.hint == (
        "wait until then, or add `--override-window`: the approval then needs one more approver "
        "than usual (clusters.prod.windows[0] in APPPROFILE_CONFIG)"
    )
    assert err.value.block.rule == "clusters.prod.windows[0]"
    assert isinstance(err.value, UserError)


def test_override_returns_the_block_and_the_card_says_so() -> None:
    cfg = policy.load(PROD)
    block = policy.check_window(cfg, "prod", FRIDAY_EVENING, override=True)
    assert block is not None
    rule = cfg.cluster("prod").approval
    assert rule is not None
    assert windows.override_note(block, rule.required + windows.OVERRIDE_EXTRA) == (
        "`--override-window`: deploying to `prod` inside the change window "
        "Fri 16:00 - Mon 08:00 Europe/Berlin (clusters.prod.windows[0]), so it needs 3 approvals instead of 2"
    )


def test_outside_a_window_nothing_happens_with_or_without_override() -> None:
    cfg = policy.load(PROD)
    for override in (False, True):
        assert policy.check_window(cfg, "prod", fixed(at(TUE, "10:00")), override=override) is None
        assert policy.check_window(cfg, "open", FRIDAY_EVENING, override=override) is None


def test_override_needs_an_approval_rule_that_can_take_one_more_approver() -> None:
    cfg = policy.load(PROD)
    with pytest.raises(UserError) as err:
        policy.check_window(cfg, "bare", FRIDAY_EVENING, override=True)
    assert "`bare` has no approval rule" in err.value.message
    assert err.value.message.startswith("deploys to `bare` are closed by a change window")
    assert err.value.hint is not None and "add `approval:` to clusters.bare" in err.value.hint
    with pytest.raises(UserError) as err:
        policy.check_window(cfg, "tight", FRIDAY_EVENING, override=True)
    assert "needs 3 approvals, but clusters.tight.approval lists only 2 approvers" in err.value.message
    # prod lists 3 for the 3 an override needs, but one of them is asking and may not approve.
    assert policy.check_window(cfg, "prod", FRIDAY_EVENING, override=True, requester="U9ZZZZ") is not None
    with pytest.raises(UserError) as err:
        policy.check_window(cfg, "prod", FRIDAY_EVENING, override=True, requester="U1AAAA")
    assert (
        "needs 3 approvals, but clusters.prod.approval lists only 2 approvers besides you"
        in err.value.message
    )
    with pytest.raises(NotFound):
        policy.check_window(cfg, "nope", FRIDAY_EVENING, override=True)


def run(**kw: object) -> Run:
    base: dict[str, object] = dict(
        id=7,
        cluster="prod",
        deployment="shop",
        profile="p",
        version="1.0.0",
        kind="deploy",
        status="awaiting_approval",
        requested_by="U9ZZZZ",
        channel="C1",
        fingerprint="f" * 64,
        created_at="2030-01-01T00:00:00Z",
        updated_at="2030-01-01T00:00:00Z",
    )
    return Run.model_validate(base | kw)


def vote(user: str) -> Approval:
    return Approval.model_validate(
        {
            "run_id": 7,
            "user": user,
            "decision": "approve",
            "fingerprint": "f" * 64,
            "at": "2030-01-01T00:10:00Z",
        }
    )


def test_an_override_needs_one_more_approver() -> None:
    rule = policy.Approval(required=2, approvers=["U1AAAA", "U2BBBB", "U3CCCC"])
    two = [vote("U1AAAA"), vote("U2BBBB")]
    assert approvals.tally(rule, run(), two).outcome == "approved"
    overridden = approvals.tally(rule, run(), two, extra=windows.OVERRIDE_EXTRA)
    assert overridden.required == 3 and overridden.outcome == "pending"
    assert approvals.tally(rule, run(), [*two, vote("U3CCCC")], extra=1).outcome == "approved"
    with pytest.raises(ValueError, match="negative"):
        approvals.tally(rule, run(), two, extra=-1)


# -- the clock: time zones and DST --------------------------------------------------------------

BEFORE_SPRING_SWITCH = 1711846740.0  # 2024-03-31 00:59 UTC: 01:59 CET in Berlin
AFTER_SPRING_SWITCH = 1711846800.0  # 2024-03-31 01:00 UTC: 03:00 CEST (02:00-03:00 never happens)
FRIDAY_1600_BERLIN = 1711724400.0  # 2024-03-29 15:00 UTC


def test_local_applies_daylight_saving_time() -> None:
    before = SystemClock(now=lambda: BEFORE_SPRING_SWITCH).local("Europe/Berlin")
    after = SystemClock(now=lambda: AFTER_SPRING_SWITCH).local("Europe/Berlin")
    assert before == LocalTime(weekday=SUN, minute=1 * 60 + 59, date_text="Sun 2024-03-31 01:59 CET")
    assert after == LocalTime(weekday=SUN, minute=3 * 60, date_text="Sun 2024-03-31 03:00 CEST")
    assert SystemClock(now=lambda: AFTER_SPRING_SWITCH).local("UTC") == LocalTime(
        weekday=SUN, minute=60, date_text="Sun 2024-03-31 01:00 UTC"
    )
    # The hour that does not exist in Berlin that night is never inside a window.
    lost_hour = [Window(deny="Sun 02:00 - Sun 03:00", timezone="Europe/Berlin")]
    for instant in (BEFORE_SPRING_SWITCH, AFTER_SPRING_SWITCH):
        assert windows.blocking(lost_hour, SystemClock(now=lambda i=instant: i).local, cluster="p") is None


def test_system_clock_drives_a_window_at_its_start() -> None:
    rules = [Window(deny="Fri 16:00 - Mon 08:00", timezone="Europe/Berlin")]
    clock = SystemClock(now=lambda: FRIDAY_1600_BERLIN)
    block = windows.blocking(rules, clock.local, cluster="prod")
    assert block is not None and block.opens == "Mon 08:00 Europe/Berlin, in 2 d 16 h"
    assert (
        windows.blocking(rules, SystemClock(now=lambda: FRIDAY_1600_BERLIN - 60).local, cluster="p") is None
    )
    # In UTC the same instant is 15:00: not yet closed.
    assert windows.blocking([Window(deny="Fri 16:00 - Mon 08:00")], clock.local, cluster="p") is None


def test_system_clock_still_tells_the_time() -> None:
    clock = SystemClock(now=lambda: 0.0)
    assert clock.now() == 0.0 and clock.timestamp(60) == "1970-01-01T00:01:00Z"
    assert SystemClock().now() > AFTER_SPRING_SWITCH


def test_unknown_time_zones() -> None:
    assert known_timezone("Europe/Berlin") and known_timezone("UTC") and known_timezone("America/New_York")
    for name in ("Europe/Berln", "europe/berlin", "localtime", "../etc/passwd", "", "CET+1"):
        assert not known_timezone(name), name
    with pytest.raises(OperatorError, match="time zone 'Mars/Olympus' of a change window is not known"):
        local_time(0.0, "Mars/Olympus")
    with pytest.raises(OperatorError):
        SystemClock().local("/etc/passwd")


# -- the config ---------------------------------------------------------------------------------


def test_windows_load_with_defaults_and_canonical_text() -> None:
    cfg = policy.load(
        'clusters: {prod: {windows: [{deny: "fri 16:00-mon 8:00", timezone: Europe/Berlin}, {deny: "22:00 - 6:00"}]}}',
        known_timezone=known_timezone,
    )
    got = cfg.cluster("prod").windows
    assert got == [
        Window(deny="Fri 16:00 - Mon 08:00", timezone="Europe/Berlin"),
        Window(deny="22:00 - 06:00"),
    ]
    assert [w.label for w in got] == ["Fri 16:00 - Mon 08:00 Europe/Berlin", "every day 22:00 - 06:00 UTC"]
    assert policy.load("clusters: {dev: {context: d}}").cluster("dev").windows == []


@pytest.mark.parametrize(
    ("windows_yaml", "line"),
    [
        (
            '[{deny: "Fry 16:00 - Mon 08:00"}]',
            "clusters.prod.windows[0].deny: `Fry` is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun",
        ),
        (
            '[{deny: "Fri 16:00 - Mon 08:00"}, {deny: "Fri 16:00 - 8"}]',
            "clusters.prod.windows[1].deny: `8` is not a time of day",
        ),
        (
            '[{deny: "Fri 16:00 - Mon 08:00", timezone: Europe/Berln}]',
            "clusters.prod.windows[0].timezone: 'Europe/Berln' is not a known time zone: use an IANA name "
            "such as Europe/Berlin, America/New_York or UTC",
        ),
        (
            '[{deny: "Fri 16:00 - Mon 08:00", timezone: ""}]',
            "clusters.prod.windows[0].timezone: '' is not a known time zone",
        ),
        (
            '[{deny: "Fri 16:00 - Mon 08:00", allow: x}]',
            "clusters.prod.windows[0].allow: unknown field `allow`",
        ),
        ("[{timezone: UTC}]", "clusters.prod.windows[0].deny: Field required"),
        ('{deny: "Fri 16:00 - Mon 08:00"}', "clusters.prod.windows: Input should be a valid list"),
    ],
)
def test_bad_windows_read_like_every_config_error(windows_yaml: str, line: str) -> None:
    with pytest.raises(UserError) as err:
        policy.load(f"clusters:\n  prod:\n    windows: {windows_yaml}\n", known_timezone=known_timezone)
    assert err.value.message.startswith("APPPROFILE_CONFIG is not valid:\n")
    # One line per problem, each starting with the field's path.
    assert any(got.startswith(line) for got in err.value.message.splitlines()), err.value.message


def test_time_zone_names_are_checked_only_when_the_entry_point_passes_the_check() -> None:
    text = 'clusters: {prod: {windows: [{deny: "22:00 - 06:00", timezone: Mars/Olympus}]}}'
    assert policy.load(text).cluster("prod").windows[0].timezone == "Mars/Olympus"
    with pytest.raises(UserError, match=r"windows\[0\]\.timezone: 'Mars/Olympus' is not a known time zone"):
        policy.load(text, known_timezone=known_timezone)


def test_other_list_errors_use_the_same_index_form() -> None:
    with pytest.raises(UserError) as err:
        policy.load("clusters: {prod: {channels: [C1, [x]]}}")
    assert "clusters.prod.channels[1]: Input should be a valid string" in err.value.message


def test_config_check_prints_the_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "appprofile.yaml"
    path.write_text(PROD)
    assert cli.cmd_config_check(argparse.Namespace(file=str(path))) == 0
    out = capsys.readouterr().out
    assert (
        "  windows: deploys refused inside; --override-window needs 3 approvals instead of 2\n"
        "    [0] Fri 16:00 - Mon 08:00 Europe/Berlin\n"
    ) in out
    assert (
        "  windows: deploys refused inside; no approval rule, so --override-window cannot open them\n"
        "    [0] Fri 16:00 - Mon 08:00 UTC\n"
    ) in out
    assert "  windows: none (deploys at any time)" in out
    path.write_text('clusters: {prod: {windows: [{deny: "22:00 - 06:00", timezone: Mars/Olympus}]}}')
    with pytest.raises(UserError, match="Mars/Olympus"):
        cli.cmd_config_check(argparse.Namespace(file=str(path)))
