"""Change windows (issue 12): when deploys to a cluster are refused, and until when.

```yaml
clusters:
  prod:
    windows:
      - {deny: "Fri 16:00 - Mon 08:00", timezone: Europe/Berlin}   # weekly, wraps past Sunday
      - {deny: "22:00 - 06:00"}                                    # every day, UTC, wraps midnight
```

A range starts at its first minute and ends just before its last (`Fri 16:00` is closed,
`Mon 08:00` is open again). Pure: the time of day comes from the caller (`ports.Clock.local`,
which applies daylight saving time) as a weekday and a minute; everything here is minute-of-week
arithmetic. "Opens in" counts wall-clock minutes in the window's zone, so across a DST switch
it can be an hour off; the weekday and time it names are exact.

A deploy inside a window is refused (`refusal`) unless the person adds `--override-window`;
then the approval needs `OVERRIDE_EXTRA` more approvers than usual (`approvals.tally(…, extra=…)`)
and the card says so (`override_note`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from bot.core.errors import UserError
from bot.core.ports import LocalTime

DAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY = 24 * 60
WEEK = 7 * DAY
# How many more approvers than usual a deploy with `--override-window` needs.
OVERRIDE_EXTRA = 1
# `policy.load(…, known_timezone=…)` hands this to the validators through pydantic's context.
KNOWN_TIMEZONE = "known_timezone"

_SHAPE = (
    "write it as `Fri 16:00 - Mon 08:00` (days Mon, Tue, Wed, Thu, Fri, Sat, Sun) "
    "or `22:00 - 06:00` (every day)"
)
_DASH = re.compile(r"\s*[-–—]\s*")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


class Span(NamedTuple):
    """A parsed `deny` range. Days are 0 (Mon) … 6 (Sun), or None on both sides: every day.
    Times are minutes since midnight."""

    start_day: int | None
    start: int
    end_day: int | None
    end: int

    @property
    def daily(self) -> bool:
        return self.start_day is None

    @property
    def text(self) -> str:
        """The canonical form: `Fri 16:00 - Mon 08:00`, `22:00 - 06:00`."""
        return f"{_point(self.start_day, self.start)} - {_point(self.end_day, self.end)}"

    def _bounds(self) -> tuple[int, int, int]:
        if self.start_day is None or self.end_day is None:
            return self.start, self.end, DAY
        return self.start_day * DAY + self.start, self.end_day * DAY + self.end, WEEK

    def contains(self, weekday: int, minute: int) -> bool:
        """Start inclusive, end exclusive; a range may wrap past midnight or Sunday."""
        start, end, period = self._bounds()
        at = (weekday * DAY + minute) % period
        return (at - start) % period < (end - start) % period

    def minutes_left(self, weekday: int, minute: int) -> int:
        """Minutes from a moment inside the range until it ends."""
        _, end, period = self._bounds()
        return (end - (weekday * DAY + minute)) % period


def _point(day: int | None, minute: int) -> str:
    clock = f"{minute // 60:02d}:{minute % 60:02d}"
    return clock if day is None else f"{DAYS[day]} {clock}"


def _parse_time(word: str) -> int:
    m = _TIME.fullmatch(word)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        hint = " (24:00 is 00:00 of the next day)" if word in ("24:00", "24:0") else ""
        raise ValueError(f"`{word}` is not a time of day: write it as HH:MM, 00:00 to 23:59{hint}")
    return int(m.group(1)) * 60 + int(m.group(2))


def _parse_day(word: str) -> int:
    day = word[:1].upper() + word[1:].lower()
    if day in DAYS:
        return DAYS.index(day)
    if day[:3] in DAYS and len(day) > 3:
        raise ValueError(f"`{word}` is not a day: write it as `{day[:3]}` (days are Mon, Tue, … Sun)")
    raise ValueError(f"`{word}` is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def _parse_side(side: str, whole: str) -> tuple[int | None, int]:
    words = side.split()
    if len(words) == 1 and _TIME.fullmatch(words[0]) is None and words[0].isalpha():
        raise ValueError(f"`{whole}` has a day without a time: {_SHAPE}")
    if len(words) == 1:
        return None, _parse_time(words[0])
    if len(words) == 2:
        return _parse_day(words[0]), _parse_time(words[1])
    raise ValueError(f"`{whole}` is not a range: {_SHAPE}")


def parse_span(text: str) -> Span:
    """`Ddd HH:MM - Ddd HH:MM` (weekly) or `HH:MM - HH:MM` (every day) → a `Span`.
    Raises ValueError with a message for the config's error list."""
    whole = " ".join(text.split())
    sides = _DASH.split(whole)
    if not whole or len(sides) != 2 or not all(sides):
        raise ValueError(f"`{whole}` is not a range: {_SHAPE}")
    start_day, start = _parse_side(sides[0], whole)
    end_day, end = _parse_side(sides[1], whole)
    if (start_day is None) != (end_day is None):
        raise ValueError(
            f"`{whole}` has a day on one side only: give a day on both sides (`Fri 16:00 - Mon 08:00`) "
            f"or on neither (`{_point(None, start)} - {_point(None, end)}`, every day)"
        )
    span = Span(start_day, start, end_day, end)
    if (start_day, start) == (end_day, end):
        raise ValueError(f"`{whole}` ends where it starts: a window needs a length")
    return span


class Window(BaseModel):
    """One `clusters.<name>.windows` entry: deploys are refused during `deny`, read in `timezone`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deny: str
    timezone: str = "UTC"

    @field_validator("deny")
    @classmethod
    def _deny(cls, v: str) -> str:
        return parse_span(v).text

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str, info: ValidationInfo) -> str:
        name = v.strip()
        context: dict[str, Any] = info.context if isinstance(info.context, dict) else {}
        known: Callable[[str], bool] | None = context.get(KNOWN_TIMEZONE)
        if not name or " " in name or (known is not None and not known(name)):
            raise ValueError(
                f"{v!r} is not a known time zone: use an IANA name such as Europe/Berlin, "
                "America/New_York or UTC"
            )
        return name

    @property
    def span(self) -> Span:
        return parse_span(self.deny)

    @property
    def label(self) -> str:
        """`Fri 16:00 - Mon 08:00 Europe/Berlin`, `every day 22:00 - 06:00 UTC`."""
        return f"{'every day ' if self.span.daily else ''}{self.deny} {self.timezone}"


class Block(BaseModel):
    """The deny window a deploy falls in, and when deploys open again."""

    model_config = ConfigDict(frozen=True)

    cluster: str
    index: int  # in the cluster's `windows`
    window: Window
    now: LocalTime  # in the window's time zone
    # Minutes until deploys open again (the window, and any of the same zone that continue it,
    # have ended); None: this cluster's windows in that zone cover the whole week.
    opens_in: int | None

    @property
    def rule(self) -> str:
        """The config path: `clusters.prod.windows[0]`."""
        return f"clusters.{self.cluster}.windows[{self.index}]"

    @property
    def opens_at(self) -> str | None:
        """`Mon 08:00`, in the window's time zone."""
        if self.opens_in is None:
            return None
        at = (self.now.weekday * DAY + self.now.minute + self.opens_in) % WEEK
        return _point(at // DAY, at % DAY)

    @property
    def opens(self) -> str:
        """`Mon 08:00 Europe/Berlin, in 2 d 15 h`."""
        if self.opens_in is None:
            return f"never: the windows of `{self.cluster}` in {self.window.timezone} cover the whole week"
        return f"{self.opens_at} {self.window.timezone}, in {duration_text(self.opens_in)}"


def duration_text(minutes: int) -> str:
    """`2 d 15 h`, `3 h 20 min`, `45 min`: two units at most (2 d 15 h 30 min reads `2 d 15 h`)."""
    days, rest = divmod(minutes, DAY)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def ago_text(seconds: float) -> str:
    """`3 h ago`, `2 d 15 h ago`, `just now` (under a minute, or a clock that went back)."""
    minutes = int(seconds // 60)
    return f"{duration_text(minutes)} ago" if minutes >= 1 else "just now"


def blocking(windows: Sequence[Window], local: Callable[[str], LocalTime], *, cluster: str) -> Block | None:
    """The first of `windows` that contains now (as `local(timezone)` says), or None: deploys
    are open. `local` is `ports.Clock.local`; it is asked once per time zone."""
    seen: dict[str, LocalTime] = {}

    def now_in(zone: str) -> LocalTime:
        if zone not in seen:
            seen[zone] = local(zone)
        return seen[zone]

    for index, window in enumerate(windows):
        now = now_in(window.timezone)
        if window.span.contains(now.weekday, now.minute):
            same_zone = [w.span for w in windows if w.timezone == window.timezone]
            return Block(
                cluster=cluster, index=index, window=window, now=now, opens_in=_opens_in(same_zone, now)
            )
    return None


def _opens_in(spans: Sequence[Span], now: LocalTime) -> int | None:
    """Minutes until no span contains the moment: windows that overlap or follow each other
    without a gap count as one."""
    ahead = 0
    while ahead < WEEK:
        at = (now.weekday * DAY + now.minute + ahead) % WEEK
        day, minute = divmod(at, DAY)
        left = [s.minutes_left(day, minute) for s in spans if s.contains(day, minute)]
        if not left:
            return ahead
        ahead += max(left)
    return None


class WindowClosed(UserError):
    """A deploy falls in a change window; `block` says which and until when."""

    def __init__(self, message: str, hint: str, *, block: Block) -> None:
        super().__init__(message, hint)
        self.block = block


def refusal(block: Block) -> WindowClosed:
    """What a deploy inside a window without `--override-window` answers."""
    closed = f"deploys to `{block.cluster}` are closed by a change window ({block.window.label})"
    override = (
        "add `--override-window`: the approval then needs one more approver than usual "
        f"({block.rule} in APPPROFILE_CONFIG)"
    )
    if block.opens_in is None:
        return WindowClosed(
            f"{closed} that does not open: {block.opens.removeprefix('never: ')}",
            f"{override}, or ask a platform admin to leave a gap in clusters.{block.cluster}.windows",
            block=block,
        )
    return WindowClosed(f"{closed} until {block.opens}", f"wait until then, or {override}", block=block)


def override_note(block: Block, required: int, *, by: str | None = None, deleting: bool = False) -> str:
    """The approval card's line for a deploy with `--override-window`; `required` is the number
    of approvals the override needs (the rule's, plus `OVERRIDE_EXTRA`)."""
    return override_text(block.cluster, block.window.label, block.rule, required, by=by, deleting=deleting)


def override_text(
    cluster: str, label: str, rule: str, required: int, *, by: str | None = None, deleting: bool = False
) -> str:
    """`override_note` from what a run keeps of its block (`options.window`, `options.window_rule`).
    `by`: who overrode (a Slack mention); `deleting`: a teardown rather than a deploy."""
    usual = required - OVERRIDE_EXTRA
    who = f" by {by}" if by else ""
    what = f"deleting from `{cluster}`" if deleting else f"deploying to `{cluster}`"
    return (
        f"`--override-window`{who}: {what} inside the change window "
        f"{label} ({rule}), so it needs {required} approvals instead of {usual}"
    )
