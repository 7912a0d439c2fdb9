"""Turning a run's stored state into events for the reporter (see `bot.core.events`).

The publisher reads the repositories, the reporter only ever sees the immutable event, and the
one thing that comes back (where a new message was posted) is stored here. A reporter that
fails (Slack down, 429s past the client's retries) is logged and skipped: showing progress must
never fail a deploy. After each event is shown, `after` sees it (the App Homes it changed are
republished); its failures are logged the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.core import approvals, ports, windows
from bot.core.events import ApprovalChanged, DriftFound, Event, Posted, RunView
from bot.core.policy import Approval as ApprovalRule
from bot.core.records import Run

log = logging.getLogger("appprofile.publisher")


class Publisher:
    def __init__(
        self,
        runs: ports.Runs,
        deployments: ports.Deployments,
        reporter: ports.Reporter,
        clock: ports.Clock,
        rule: Callable[[str], ApprovalRule | None],
        after: Callable[[Event], None] | None = None,
    ) -> None:
        self.runs = runs
        self.deployments = deployments
        self.reporter = reporter
        self.clock = clock
        # The cluster's approval rule, to count the approvals a card shows (None: no approval).
        self.rule = rule
        # Runs after each event is shown and stored (the App Home's refresh); failures are logged.
        self.after = after

    def view(self, run_id: int) -> RunView:
        run = self.runs.get_run(run_id)
        dep = self.deployments.get_deployment(run.cluster, run.deployment)
        rule = self.rule(run.cluster)
        extra = windows.OVERRIDE_EXTRA if run.options.get("override_window") else 0
        tally = approvals.tally(rule, run, self.runs.approvals(run.id), extra=extra) if rule else None
        return RunView(
            run=run,
            outputs=dep.outputs if dep is not None else {},
            last_good_version=dep.last_good_version if dep is not None else None,
            queue_position=self.runs.queue_position(run.id) if run.status == "queued" else 0,
            approved_by=tally.approved_by if tally is not None else [],
            required=tally.required if tally is not None else 1,
            now=self.clock.now(),
            now_iso=self.clock.timestamp(),
        )

    def notice(self, event: DriftFound) -> bool:
        """Show a notice about a deployment (drift found); False if the reporter failed."""
        try:
            self.reporter.publish(event)
        except Exception:
            log.warning(
                "showing a drift notice failed", extra={"cluster": event.report.cluster}, exc_info=True
            )
            return False
        return True

    def publish(self, make: type[Event], run_id: int, **fields: Any) -> Run | None:
        """Publish one event about the run; returns the run as updated if a message was posted."""
        try:
            event = make(view=self.view(run_id), **fields)
        except Exception:
            log.warning("showing progress failed", extra={"run_id": run_id}, exc_info=True)
            return None
        try:
            posted = self.reporter.publish(event)
        except Exception:
            log.warning("showing progress failed", extra={"run_id": run_id}, exc_info=True)
            posted = None
        updated = self._stored(event, posted)
        self._then(event)
        return updated

    def _stored(self, event: Event, posted: Posted | None) -> Run | None:
        """Where a new message went, kept on the run so later events edit it."""
        if posted is None:
            return None
        if isinstance(event, ApprovalChanged):
            return self.runs.update_run(event.run_id, approval_ts=posted.ts)
        return self.runs.update_run(event.run_id, channel=posted.channel, message_ts=posted.ts)

    def _then(self, event: Event) -> None:
        """`after` sees every event, whatever the reporter did; it never fails a deploy."""
        if self.after is None:
            return
        try:
            self.after(event)
        except Exception:
            log.warning("refreshing after an event failed", extra={"run_id": event.run_id}, exc_info=True)
