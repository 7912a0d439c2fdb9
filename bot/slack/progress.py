"""Live progress of a run: one Slack message, updated in place, details in its thread.

The reporter renders events (`bot.core.events`): each carries the whole run as it is, so the
reporter never reads the store and never calls the use cases. Redraws are coalesced to at most
one `chat.update` per `min_interval` seconds per run (Slack's Tier 3 limit is about 50 a minute
per method), drawing the newest event; the final state is drawn at once. A failing Slack call is
logged and dropped: progress reporting never fails a deploy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient

from bot.core import lineage, windows
from bot.core.events import ApprovalChanged, DriftFound, Posted, RunFinished, RunView, Shown
from bot.core.records import Run, TierState
from bot.slack import blocks as blocks_mod
from bot.slack import drift_view, failures, plan_view
from bot.slack.action_ids import APPROVE_ACTION, LOGS_ACTION, REJECT_ACTION, RETRY_ACTION, ROLLBACK_ACTION

log = logging.getLogger("appprofile.slack.progress")

ICONS = {
    "pending": "⚪",
    "applying": "🔵",
    "waiting": "⏳",
    "ready": "✅",
    "failed": "❌",
    "deleted": "🗑️",
}
STATUS_TITLE = {
    "queued": "Queued",
    "awaiting_approval": "Waiting for approval",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "superseded": "Superseded",
    "rejected": "Rejected",
    "expired": "Expired",
}
MAX_TIER_LINES = 40
ADDRESS_OUTPUTS = ("EXTERNALIP", "EXTERNALHOSTNAME", "_SVC", "_URL", "_ENDPOINT", "BOOTSTRAP_SERVERS", "URI")


def _elapsed(t: TierState, now: float) -> str:
    if t.started_at is None:
        return ""
    end = t.finished_at or now
    secs = max(0, int(end - t.started_at))
    return f" · {secs // 60}m{secs % 60:02d}s" if secs >= 60 else f" · {secs}s"


def plan_summary(run: Run) -> str:
    counts = {"create": 0, "change": 0, "unchanged": 0, "prune": 0}
    for c in (run.plan or {}).get("changes", []):
        action = c.get("action", "change")
        counts[action] = counts.get(action, 0) + 1
    return f"{counts['create']} to create, {counts['change']} to change, {counts['prune']} to prune"


def pruned_objects(run: Run) -> list[str]:
    """The objects this plan removes (only ours, only these), as `Kind namespace/name`."""
    out = []
    for c in (run.plan or {}).get("changes", []):
        if c.get("action") == "prune":
            ref = c.get("ref") or {}
            ns = f"{ref.get('namespace')}/" if ref.get("namespace") else ""
            out.append(f"{ref.get('kind', '')} {ns}{ref.get('name', '')}")
    return out


def title(run: Run) -> str:
    verb = {"deploy": "Deploy", "rollback": "Roll back", "delete": "Delete"}[run.kind]
    what = f"{run.profile} {run.version}" if run.kind != "delete" else run.deployment
    return f"{verb} {what} → {run.cluster} as {run.deployment}"[:150]


def blocks(view: RunView) -> list[dict[str, Any]]:
    """The progress message: header, one line per tier, then outputs or the failure and buttons."""
    run, now = view.run, view.now
    status = STATUS_TITLE[run.status]
    if run.status == "queued" and view.queue_position > 0:
        status = f"Queued (position {view.queue_position})"
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(run)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"*{status}* · run #{run.id} · requested by <@{run.requested_by}>"
                    + "".join(f" · {text}" for text in _promotion(run, now))
                    + (f" · plan `{run.fingerprint[:12]}`: {plan_summary(run)}" if run.fingerprint else ""),
                }
            ],
        },
    ]
    pruned = pruned_objects(run)
    if pruned:
        shown = ", ".join(pruned[:10]) + (f" and {len(pruned) - 10} more" if len(pruned) > 10 else "")
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Prunes: {shown}"[:3000]}]})
    out.extend(_digest(run))
    lines = []
    for t in run.tiers[:MAX_TIER_LINES]:
        msg = f" — {t.message}" if t.message else ""
        lines.append(f"{ICONS[t.state]} *{t.name}* {t.state}{_elapsed(t, now)}{msg}")
    if len(run.tiers) > MAX_TIER_LINES:
        lines.append(f"…and {len(run.tiers) - MAX_TIER_LINES} more tiers")
    if lines:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
    if run.status == "failed" and run.error:
        out.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Failed:* {run.error[:2800]}\nDetails are in the thread.",
                },
            }
        )
    if run.status == "succeeded" and run.kind != "delete" and view.outputs:
        out.append({"type": "divider"})
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": outputs_text(view.outputs)[:3000]}})
    if run.status in ("failed", "succeeded") and run.kind != "delete":
        elements: list[dict[str, Any]] = [
            {
                "type": "button",
                "action_id": RETRY_ACTION,
                "text": {"type": "plain_text", "text": "Retry" if run.status == "failed" else "Redeploy"},
                "value": str(run.id),
            }
        ]
        if view.last_good_version and run.status == "failed":
            elements.append(
                {
                    "type": "button",
                    "action_id": ROLLBACK_ACTION,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": f"Roll back to {view.last_good_version}"[:75]},
                    "value": str(run.id),
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Roll back?"},
                        "text": {
                            "type": "mrkdwn",
                            "text": f"Redeploy {run.profile} {view.last_good_version} to {run.cluster}?",
                        },
                        "confirm": {"type": "plain_text", "text": "Roll back"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                }
            )
        failed_tier = next((t.name for t in run.tiers if t.state == "failed"), None)
        if run.status == "failed" and failed_tier is not None:
            elements.append(logs_button(run, failed_tier))
        out.append({"type": "actions", "block_id": f"run-{run.id}", "elements": elements})
    waiting = next((t.name for t in run.tiers if t.state == "waiting"), None)
    if run.status == "running" and run.kind != "delete" and waiting is not None:
        out.append(
            {"type": "actions", "block_id": f"run-{run.id}-logs", "elements": [logs_button(run, waiting)]}
        )
    return out


def logs_button(run: Run, tier: str) -> dict[str, Any]:
    """**Logs**: the tier's pods' last lines into this message's thread (`/appprofile logs`)."""
    return {
        "type": "button",
        "action_id": LOGS_ACTION,
        "text": {"type": "plain_text", "text": f"Logs of {tier}"[:75]},
        "value": json.dumps({"run": run.id, "tier": tier}),
    }


def outputs_text(outputs: dict[str, dict[str, str]]) -> str:
    """Outputs as Slack mrkdwn; values arrive masked for secrets (the executor masks them)."""
    lines = ["*Outputs*"]
    for tier, values in outputs.items():
        if not values:
            continue
        shown = ", ".join(f"`{k}`={blocks_mod.output_value(v)}" for k, v in sorted(values.items()))
        lines.append(f"• *{tier}*: {shown}")
    return "\n".join(lines)


METADATA_EVENT = "appprofile_deploy"


def metadata(run: Run) -> dict[str, Any]:
    """Slack message metadata on every progress message, so other apps and workflows can react to
    deploys without parsing text (the manifest subscribes to this event type)."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {
            "deployment": run.deployment,
            "cluster": run.cluster,
            "profile": run.profile,
            "version": run.version,
            "status": run.status,
            "run_id": run.id,
            "kind": run.kind,
        },
    }


def fallback_text(run: Run) -> str:
    return f"{title(run)}: {STATUS_TITLE[run.status]}"


class SlackReporter:
    def __init__(self, client: WebClient, *, min_interval: float = 1.0) -> None:
        self.client = client
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}
        self._timers: dict[int, threading.Timer] = {}
        # The newest view of each run whose redraw is waiting for its interval.
        self._pending: dict[int, RunView] = {}

    def publish(self, event: Shown) -> Posted | None:
        """Show the event; a Web API failure leaves as one of the tree's errors (the publisher
        logs it and goes on: showing progress never fails a deploy)."""
        return failures.web_api(lambda: self._show(event))

    def _show(self, event: Shown) -> Posted | None:
        if isinstance(event, DriftFound):
            # A notice, not a run's message: posted once, never edited (nothing to store).
            msg = drift_view.notice(event.report, version=event.version)
            self.client.chat_postMessage(channel=event.channel, text=msg.text, blocks=msg.blocks)
            return None
        if isinstance(event, ApprovalChanged):
            return self._approval(event.view)
        view = event.view
        if view.run.message_ts is None:
            posted = self._post(view)
            if isinstance(event, RunFinished) and event.detail:
                self._detail(view.run.model_copy(update={"message_ts": posted.ts}), event.detail)
            return posted
        if isinstance(event, RunFinished):
            self._finish(view, event.detail)
        else:
            self._changed(view)
        return None

    def _post(self, view: RunView) -> Posted:
        run = view.run
        resp = self.client.chat_postMessage(
            channel=run.channel, text=fallback_text(run), blocks=blocks(view), metadata=metadata(run)
        )
        with self._lock:
            self._last[run.id] = time.monotonic()
        return Posted(channel=str(resp["channel"]), ts=str(resp["ts"]))

    def _draw(self, view: RunView) -> None:
        run = view.run
        self.client.chat_update(
            channel=run.channel,
            ts=str(run.message_ts),
            text=fallback_text(run),
            blocks=blocks(view),
            metadata=metadata(run),
        )

    def _draw_pending(self, run_id: int) -> None:
        with self._lock:
            self._timers.pop(run_id, None)
            view = self._pending.pop(run_id, None)
            self._last[run_id] = time.monotonic()
        if view is None:
            return
        try:
            self._draw(view)
        except Exception:
            log.warning("progress update failed", extra={"run_id": run_id}, exc_info=True)

    def _changed(self, view: RunView) -> None:
        run_id = view.run.id
        with self._lock:
            self._pending[run_id] = view  # a scheduled redraw draws the newest event
            if run_id in self._timers:
                return
            wait = self._last.get(run_id, 0.0) + self.min_interval - time.monotonic()
            if wait > 0:
                timer = threading.Timer(wait, self._draw_pending, args=(run_id,))
                timer.daemon = True
                self._timers[run_id] = timer
                timer.start()
                return
        self._draw_pending(run_id)

    def _finish(self, view: RunView, detail: str) -> None:
        run_id = view.run.id
        with self._lock:
            timer = self._timers.pop(run_id, None)
            self._pending[run_id] = view
        if timer is not None:
            timer.cancel()
        self._draw_pending(run_id)
        with self._lock:
            self._last.pop(run_id, None)
        if detail:
            self._detail(view.run, detail)

    def _detail(self, run: Run, text: str) -> None:
        """A failure's full message, in the progress message's thread."""
        body = text if len(text) <= 3500 else text[:3500] + "\n… (cut; see the bot's log for the rest)"
        self.client.chat_postMessage(
            channel=run.channel, thread_ts=run.message_ts, text=f"Details for run #{run.id}:\n```{body}```"
        )

    def _approval(self, view: RunView) -> Posted | None:
        run = view.run
        body = approval_blocks(
            run, approved_by=view.approved_by, required=view.required, now_iso=view.now_iso, now=view.now
        )
        if run.approval_ts is None:
            resp = self.client.chat_postMessage(channel=run.channel, text=_approval_text(run), blocks=body)
            return Posted(channel=str(resp["channel"]), ts=str(resp["ts"]))
        self.client.chat_update(
            channel=run.channel, ts=run.approval_ts, text=_approval_text(run), blocks=body
        )
        return None


def approval_blocks(
    run: Run, *, approved_by: list[str], required: int, now_iso: str, now: float = 0.0
) -> list[dict[str, Any]]:
    """The approval card: what would run, the plan it binds to, who approved, and until when;
    a promotion says where from (its "time ago" counted from `now`, the event's clock)."""
    summary = plan_summary(run)
    verb = "delete from" if run.kind == "delete" else "deploy to"
    state = {
        "awaiting_approval": f"Waiting for approval: {len(approved_by)} of {required}",
        "queued": "Approved — deploying",
        "running": "Approved — deploying",
        "succeeded": "Approved — deployed",
        "failed": "Approved — the deploy failed",
        "rejected": "Rejected",
        "expired": "Expired — nobody approved in time",
        "superseded": "Superseded by a newer request",
        "cancelled": "Cancelled",
    }[run.status]
    by = ", ".join(f"<@{u}>" for u in approved_by) or "nobody yet"
    fields = [
        f"*Requested by* <@{run.requested_by}>",
        f"*Profile* {run.profile}@{run.version}",
        f"*Cluster* {run.cluster}",
        f"*Deployment* {run.deployment}",
        f"*Plan* {summary} · `{run.fingerprint[:12]}`",
        f"*Approved by* {by}",
    ]
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Approval: {verb} {run.cluster}"[:150]},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        *(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f":arrow_heading_up: {text}"}]}
            for text in _promotion(run, now, source_run=True)
        ),
        *_digest(run),
        *_override(run, required),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{state}*"}]},
    ]
    if run.status == "awaiting_approval":
        if run.expires_at:
            out.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"Expires at {run.expires_at} (UTC)"}],
                }
            )
        value = json.dumps({"run": run.id, "fp": run.fingerprint})
        out.append(
            {
                "type": "actions",
                "block_id": f"approval-{run.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": value,
                        "confirm": _confirm(
                            f"Approve this {'delete' if run.kind == 'delete' else 'deploy'}?",
                            f"{run.profile}@{run.version} → {run.cluster}",
                        ),
                    },
                    {
                        "type": "button",
                        "action_id": REJECT_ACTION,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "value": value,
                        "confirm": _confirm("Reject this deploy?", "The request ends; it can be made again."),
                    },
                ],
            }
        )
    return out


def _promotion(run: Run, now: float, *, source_run: bool = False) -> list[str]:
    """A promoted run's lineage as one line (none for other runs): "promotion of shop from
    staging (succeeded 3 h ago)", with the source run and version on the approval card."""
    source = lineage.of(run.options)
    if source is None:
        return []
    text = source.text(now)
    if source_run:
        text += f": run #{source.run}'s version {source.version} and `--set` values, unchanged"
    return [text[:3000]]


def _override(run: Run, required: int) -> list[dict[str, Any]]:
    """A request made inside a change window with `--override-window`: who overrode which
    window, and that it needs one more approval than the cluster's rule."""
    if not run.options.get("override_window"):
        return []
    note = windows.override_text(
        run.cluster,
        str(run.options.get("window", "")),
        str(run.options.get("window_rule", "")),
        required,
        by=f"<@{run.requested_by}>",
        deleting=run.kind == "delete",
    )
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {note}"}]}]


def _digest(run: Run) -> list[dict[str, Any]]:
    """What the run applies, per tier by kind, and every sensitive object by name, with a button
    for the full list: an approver approves what they can read."""
    if not (run.plan or {}).get("tiers"):
        return []
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": plan_view.digest_text(run.plan)},
            "accessory": plan_view.view_plan_button(run.id),
        }
    ]


def _confirm(title_text: str, text: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": title_text[:100]},
        "text": {"type": "mrkdwn", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _approval_text(run: Run) -> str:
    if run.kind == "delete":
        return f"Approval needed: delete {run.deployment} from {run.cluster}"
    return f"Approval needed: deploy {run.profile}@{run.version} to {run.cluster} as {run.deployment}"
