"""Work a listener hands to the executor after acking, and what its failures show the person."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable

from bot.slack import failures
from bot.slack.blocks import Message
from bot.slack.listeners.replies import Replies

log = logging.getLogger("bot.slack")


def deliver(send: Callable[[Message], None], msg: Message) -> None:
    """Send an error reply; if even that fails, the log is all that is left."""
    try:
        send(msg)
    except Exception:
        log.exception("could not deliver an error reply")


class Jobs:
    """Runs each job on the executor; whatever it raises becomes a private reply (`report`)."""

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self.executor = executor

    def run(self, what: str, replies: Replies, job: Callable[[], None]) -> None:
        self.executor.submit(self._guarded, what, replies, job)

    @staticmethod
    def _guarded(what: str, replies: Replies, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:
            deliver(replies.private, failures.report(exc, what))
