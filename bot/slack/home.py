"""Publishing App Home views (`views.publish`), coalesced per person.

Slack rates `views.publish` Tier 4 ("100+ per minute", per app and workspace:
https://docs.slack.dev/reference/methods/views.publish, rate limits at
https://docs.slack.dev/apis/web-api/rate-limits). A deploy emits several events in a second, each
refreshing the Homes of everyone it touches, so views are not published as they come: one
worker thread publishes them one at a time, at most one per person per `min_interval`, always
the newest view of that person (a view waiting for its turn is replaced, never queued behind).
An opened Home (`at_once`) goes out at once. Slack's own 429s are waited out by the client's
retry handler on that one thread, which holds every later publish back meanwhile.

A failed publish is logged (as `bot.slack.failures` says) and handed to `on_failed` (the store
forgets the digest, so the next refresh tries again); it never reaches the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

from bot.core.errors import AppError
from bot.core.home import HomeView
from bot.slack import failures, home_view

log = logging.getLogger("appprofile.slack.home")

MIN_INTERVAL = 1.0
MAX_WAITING = 1000  # people whose view waits for its turn; past it a view is dropped (and retried)


def _nobody(_user: str) -> None:
    """No `on_failed`: a failed view is only logged."""


class SlackHome:
    def __init__(
        self,
        client: WebClient,
        *,
        min_interval: float = MIN_INTERVAL,
        on_failed: Callable[[str], None] = _nobody,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.on_failed = on_failed
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._waiting: dict[str, HomeView] = {}  # the newest view of each person, not yet published
        self._due: dict[str, float] = {}  # when each person's next publish may go (monotonic)
        self._newest: dict[str, int] = {}  # the newest `seq` accepted for each person
        self._worker: threading.Thread | None = None

    def show(self, view: HomeView, *, at_once: bool = False) -> None:
        """Publish `view` to its user in turn; one built before one already accepted is ignored."""
        user = view.user
        with self._cond:
            if view.seq < self._newest.get(user, 0):
                return
            full = user not in self._waiting and len(self._waiting) >= self.max_waiting
            if not full:
                self._newest[user] = view.seq
                self._waiting[user] = view
                if at_once:
                    self._due[user] = 0.0
                self._wake()
        if full:
            log.warning("%d Home views wait already; one for %s was dropped", self.max_waiting, user)
            self._failed(user)

    def _wake(self) -> None:
        """With the lock held: the worker sees the new view (started when there is none)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="slack-home", daemon=True)
            self._worker.start()
        self._cond.notify_all()

    def _work(self) -> None:
        """Publish views as they fall due; the thread ends when none is waiting."""
        while True:
            view = self._next()
            if view is None:
                return
            self._publish(view)

    def _next(self) -> HomeView | None:
        """The next view due (waiting on the condition until one is), or None when none waits."""
        with self._cond:
            while True:
                now = time.monotonic()
                if not self._waiting:
                    self._due = {u: t for u, t in self._due.items() if t > now}
                    self._worker = None
                    return None
                user = min(self._waiting, key=lambda u: self._due.get(u, 0.0))
                wait = self._due.get(user, 0.0) - now
                if wait <= 0:
                    self._due[user] = now + self.min_interval
                    return self._waiting.pop(user)
                self._cond.wait(wait)

    def _publish(self, view: HomeView) -> None:
        try:
            failures.web_api(lambda: self.client.views_publish(user_id=view.user, view=home_view.home(view)))
        except AppError as exc:  # web_api logged Slack's answer with its method
            log.warning("the Home of %s was not published: %s", view.user, exc)
            self._failed(view.user)
        except Exception:
            log.exception("the Home of %s was not published", view.user)
            self._failed(view.user)

    def _failed(self, user: str) -> None:
        try:
            self.on_failed(user)
        except Exception:
            log.exception("could not record that the Home of %s was not published", user)
