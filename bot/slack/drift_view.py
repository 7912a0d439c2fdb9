"""Drift as people see it: under a deployment's `status`, and as the notice a scheduled check
posts in the deployment's channel. Field paths only (a Secret's keys, never its values), each
object on one line, with a Revert button that re-applies the deployed version."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.core.drift import DriftedObject, DriftReport
from bot.slack import action_ids, blocks
from bot.slack.blocks import Message, button, context, escape, plural, section

if TYPE_CHECKING:
    from bot.usecases.queries import DeploymentView

MAX_OBJECTS = 15  # lines per drift section; past them "…and N more"
MAX_FIELDS = 8  # fields per object line


def revert_button(cluster: str, name: str, version: str) -> dict[str, Any]:
    confirm = {
        "title": {"type": "plain_text", "text": "Revert hand edits?"},
        "text": {
            "type": "mrkdwn",
            "text": f"Re-apply version {escape(version)} of `{escape(name)}` to {escape(cluster)}: "
            "every field that differs from what was applied is set back, and objects deleted by hand "
            "are created again. The cluster's approval rules apply.",
        },
        "confirm": {"type": "plain_text", "text": "Revert"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    value = json.dumps({"cluster": cluster, "name": name})
    return button(f"Revert to {version}", action_ids.REVERT_ACTION, value, style="danger", confirm=confirm)


def _line(obj: DriftedObject) -> str:
    label = escape(obj.ref.label)
    if obj.state == "deleted":
        return f"• {label} — *deleted*"
    shown = ", ".join(f"`{escape(f)}`" for f in obj.fields[:MAX_FIELDS])
    more = f" and {len(obj.fields) - MAX_FIELDS} more" if len(obj.fields) > MAX_FIELDS else ""
    return f"• {label}: {shown}{more}"


def lines(report: DriftReport) -> str:
    rows = [_line(o) for o in report.objects[:MAX_OBJECTS]]
    if len(report.objects) > MAX_OBJECTS:
        rows.append(f"…and {len(report.objects) - MAX_OBJECTS} more objects")
    return "\n".join(rows)


def summary(report: DriftReport) -> str:
    drifted = len(report.objects)
    return (
        f":warning: *Drift*: {plural(drifted, 'object')} of {report.checked} no longer "
        f"{'holds' if drifted == 1 else 'hold'} what was applied"
    )


def status_blocks(
    report: DriftReport | None, skipped: str, *, version: str, revertable: bool = True
) -> list[dict[str, Any]]:
    """What `status` adds under a deployment: the drift with a Revert button (`revertable`: the
    deployment is ready; a failed one has Retry and Roll back on its run), or a line saying the
    objects match (or why they were not checked)."""
    if report is None:
        return [context(escape(skipped))] if skipped else []
    unrecorded = (
        f" ({plural(report.unrecorded, 'object')} applied before drift records began: deploy once to record them)"
        if report.unrecorded
        else ""
    )
    if not report.drifted:
        return [
            context(f":white_check_mark: No drift: {plural(report.checked, 'object')} checked{unrecorded}")
        ]
    block = section(f"{summary(report)}:\n{lines(report)}")
    if revertable:
        block["accessory"] = revert_button(report.cluster, report.deployment, version)
    return [block, context(f"A deploy of any version overwrites these hand edits.{unrecorded}")]


def notice(report: DriftReport, *, version: str) -> Message:
    """The scheduled check's message in the deployment's channel (once per drift)."""
    where = f"`{escape(report.deployment)}` on {escape(report.cluster)}"
    block = section(f"{summary(report).replace('*Drift*', f'*Drift* in {where}')}:\n{lines(report)}")
    block["accessory"] = revert_button(report.cluster, report.deployment, version)
    text = f"Drift in {report.deployment} on {report.cluster}: {plural(len(report.objects), 'object')} changed by hand"
    return Message(
        text=text,
        blocks=[
            block,
            context("Revert re-applies the deployed version; the cluster's approval rules apply."),
        ],
    )


def status(items: Sequence[DeploymentView]) -> Message:
    """`blocks.status` with each deployment's drift under its line, within Slack's 50 blocks."""
    msg = blocks.status(items)
    if not items:
        return msg
    out = msg.blocks[:1]
    for view, line in zip(items, msg.blocks[1:], strict=False):
        dep = view.deployment
        extra = status_blocks(
            view.drift, view.drift_skipped, version=dep.version, revertable=dep.status == "ready"
        )
        if len(out) + 1 + len(extra) > blocks.MAX_BLOCKS:
            break
        out.extend([line, *extra])
    return Message(text=msg.text, blocks=out)
