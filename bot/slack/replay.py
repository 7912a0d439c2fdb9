"""Slack retries and replays are acknowledged and not executed again.

Slack retries a request it thinks went unanswered (`X-Slack-Retry-Num`), and anyone who saw one
signed request can send it again within the five minutes its timestamp stays valid. Either
would run a deploy twice. The signature identifies a request exactly (an HMAC over its timestamp
and body), so a signature seen before is a replay; a retry is never executed because the bot
acks every request at once (a retry means only that the ack was slow, the work already started).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from slack_bolt import BoltRequest, BoltResponse

log = logging.getLogger("appprofile.slack.replay")

# Slack's own window: Bolt refuses timestamps older than five minutes.
WINDOW_SECONDS = 5 * 60 + 30


class SeenRequests(Protocol):
    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the window, False after."""
        ...


class MemorySeen:
    """One process's memory of recent signatures (bounded; oldest forgotten first)."""

    def __init__(
        self,
        *,
        window: float = WINDOW_SECONDS,
        limit: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._limit = limit
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - self._window or len(self._seen) >= self._limit
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def _header(req: BoltRequest, name: str) -> str:
    values = req.headers.get(name) or []
    return str(values[0]) if values else ""


def middleware(
    seen: SeenRequests,
) -> Callable[[BoltRequest, BoltResponse, Callable[[], BoltResponse]], BoltResponse]:
    """A Bolt middleware (after signature verification): ack retries and replays with 200."""

    def skip_repeats(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        retry = _header(req, "x-slack-retry-num")
        if retry:
            log.info(
                "slack retry %s acknowledged, not executed again (%s)",
                retry,
                _header(req, "x-slack-retry-reason") or "no reason given",
            )
            return BoltResponse(status=200, body="")
        signature = _header(req, "x-slack-signature")
        if signature and not seen.first_time(signature):
            log.warning("a replayed signed request was acknowledged and not executed")
            return BoltResponse(status=200, body="")
        return next()

    return skip_repeats
