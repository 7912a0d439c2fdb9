"""The wall clock, behind `ports.Clock`: the one place the app reads the time of day."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from bot.core.errors import OperatorError
from bot.core.ports import LocalTime


def iso(epoch_seconds: float) -> str:
    """ISO 8601 UTC with a `Z`: sorts as text in time order, which `expires_at` checks rely on."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    # `localtime` is the host's own setting (a file in /usr/share/zoneinfo), not an IANA name.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules"}


def known_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone this install knows (the system's zoneinfo or the
    `tzdata` package): for `policy.load(…, known_timezone=known_timezone)`."""
    return name in _timezones()


def local_time(epoch_seconds: float, timezone: str) -> LocalTime:
    """The moment in `timezone`, daylight saving time applied by zoneinfo."""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise OperatorError(
            f"time zone {timezone!r} of a change window is not known",
            "use an IANA name such as Europe/Berlin in APPPROFILE_CONFIG (`appprofile config check` "
            "names each), and install the `tzdata` package where the system has no zoneinfo",
        ) from None
    at = datetime.fromtimestamp(epoch_seconds, tz=zone)
    return LocalTime(
        weekday=at.weekday(),
        minute=at.hour * 60 + at.minute,
        date_text=at.strftime("%a %Y-%m-%d %H:%M %Z"),
    )


class SystemClock:
    """`now` (seconds since the epoch) is the system's unless a test passes its own."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()

    def timestamp(self, seconds_from_now: float = 0.0) -> str:
        return iso(self.now() + seconds_from_now)

    def local(self, timezone: str) -> LocalTime:
        return local_time(self.now(), timezone)
