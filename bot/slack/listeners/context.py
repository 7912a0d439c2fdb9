"""What every listener module is registered with: the use cases and the job runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.slack.listeners import answers
from bot.slack.listeners.jobs import Jobs
from bot.slack.listeners.replies import Replies

if TYPE_CHECKING:
    from bot.core.tickets import DeployTicket
    from bot.usecases.service import Service


@dataclass(frozen=True)
class Context:
    service: Service
    jobs: Jobs

    def deploy_reply(self, ticket: DeployTicket, replies: Replies) -> None:
        """A preview goes to the channel; a started, queued or pending run is said privately."""
        if ticket.preview_only:
            replies.public(answers.preview(ticket))
        else:
            replies.private(answers.deploy_started(ticket))
