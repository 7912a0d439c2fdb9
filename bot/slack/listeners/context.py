"""What every listener module is registered with: the use cases, the job runner and the
Home tab (where each person's App Home is published)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.slack import failures
from bot.slack.listeners import answers
from bot.slack.listeners.jobs import Jobs
from bot.slack.listeners.replies import Replies

if TYPE_CHECKING:
    from bot.core.ports import HomeScreen
    from bot.core.tickets import DeployTicket
    from bot.usecases.service import Service


@dataclass(frozen=True)
class Context:
    service: Service
    jobs: Jobs
    home: HomeScreen | None = None

    def refresh_home(self, user: str) -> None:
        """After a click on `user`'s Home tab: publish it again if what it shows changed. A failure
        here is logged only: the click itself was answered."""
        try:
            view = self.service.home_clicked(user)
            if view is not None and self.home is not None:
                self.home.show(view)
        except Exception as exc:
            failures.explain(exc, "refreshing the Home tab")

    def deploy_reply(self, ticket: DeployTicket, replies: Replies) -> None:
        """A preview goes to the channel; a started, queued or pending run is said privately."""
        if ticket.preview_only:
            replies.public(answers.preview(ticket))
        else:
            replies.private(answers.deploy_started(ticket))
