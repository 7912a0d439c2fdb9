"""The Home tab drawn from a `HomeView`: approvals waiting on the person, their deployments per
cluster, their last runs. Pure: a view in, a `views.publish` view out, within Slack's 100 blocks
(a list that does not fit ends in "…and N more").

Approve, Reject and Upgrade are the very buttons of the approval card and of `/appprofile
status` (same action ids, same values), so the same listeners and the same rules decide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.core.home import HomeApproval, HomeDeployment, HomeRun, HomeView
from bot.slack import blocks
from bot.slack.action_ids import APPROVE_ACTION, REJECT_ACTION, UPGRADE_ACTION
from bot.slack.progress import STATUS_TITLE

MAX_BLOCKS = 100  # a Home tab's limit (docs.slack.dev/reference/block-kit/blocks)
DEPLOYMENT_ICONS = {"pending": "⚪", "deploying": "🔵", "ready": "✅", "failed": "❌", "deleting": "🗑️"}
Block = dict[str, Any]


def home(view: HomeView) -> dict[str, Any]:
    """The `view` argument of `views.publish` for `view.user`."""
    intro = [
        blocks.header("App Profiles"),
        blocks.context("The approvals waiting on you, your deployments and your last runs, kept up to date."),
    ]
    runs = _runs(view.runs)
    room = MAX_BLOCKS - len(intro) - len(runs)
    waiting = _approvals(view.approvals, room // 2 if view.deployments else room)
    deployed = _deployments(view.deployments, room - len(waiting))
    return {"type": "home", "blocks": [*intro, *waiting, *deployed, *runs]}


def listing(head: Block, rows: Sequence[list[Block]], room: int, what: str) -> list[Block]:
    """`head`, then whole rows while they fit in `room` blocks; the rest said as "…and N more".
    Nothing when not even the head and one line fit."""
    if not rows or room < 2:
        return []
    out = [head]
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        if len(out) + len(row) + (0 if last else 1) > room:
            out.append(blocks.context(f"…and {len(rows) - i} more {what}"))
            return out
        out.extend(row)
    return out


# -- approvals waiting on the person -------------------------------------------------------------


def _approvals(items: Sequence[HomeApproval], room: int) -> list[Block]:
    rows = [_approval(a) for a in items]
    return listing(blocks.header(f"Waiting on your approval ({len(items)})"), rows, room, "requests")


def _approval(a: HomeApproval) -> list[Block]:
    verb = "Delete" if a.kind == "delete" else "Deploy"
    what = a.deployment if a.kind == "delete" else f"{a.profile}@{a.version}"
    expires = f" · expires {_when(a.expires_at)}" if a.expires_at else ""
    where = f" · card in <#{a.channel}>" if a.channel else ""
    text = (
        f"*{verb} {blocks.escape(what)} → {a.cluster}* as {blocks.escape(a.deployment)} · run #{a.run}\n"
        f"Requested by <@{a.requested_by}> · {len(a.approved_by)} of {a.required} approvals{expires}{where}"
    )
    if not a.buttons:
        there = f"<#{a.channel}>" if a.channel else "its channel"
        note = f"Approvals for `{a.cluster}` count only from its channels: approve on the card in {there}."
        return [blocks.section(text), blocks.context(note)]
    return [blocks.section(text), _decide(a, verb.lower())]


def _decide(a: HomeApproval, verb: str) -> Block:
    value = json.dumps({"run": a.run, "fp": a.fingerprint})
    target = f"{a.profile}@{a.version} → {a.cluster}"
    approve = blocks.button(
        "Approve", APPROVE_ACTION, value, style="primary", confirm=_confirm(f"Approve this {verb}?", target)
    )
    reject = blocks.button(
        "Reject",
        REJECT_ACTION,
        value,
        style="danger",
        confirm=_confirm(f"Reject this {verb}?", "The request ends; it can be made again."),
    )
    return {"type": "actions", "block_id": f"home-approval-{a.run}", "elements": [approve, reject]}


def _confirm(title: str, text: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "mrkdwn", "text": blocks.escape(text)[:300]},
        "confirm": {"type": "plain_text", "text": "Yes"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


# -- the person's deployments, per cluster -------------------------------------------------------


def _deployments(items: Sequence[HomeDeployment], room: int) -> list[Block]:
    if not items:
        nothing = (
            "Nothing of yours is deployed. Deploy from a channel: `/appprofile deploy PROFILE to CLUSTER`."
        )
        return [blocks.header("Your deployments"), blocks.context(nothing)] if room >= 2 else []
    rows: list[list[Block]] = []
    cluster = None
    for dep in items:  # sorted by cluster, then name
        row = [_deployment(dep)]
        if dep.cluster != cluster:
            cluster = dep.cluster
            row.insert(0, blocks.context(f"*Cluster {dep.cluster}*"))
        rows.append(row)
    return listing(blocks.header(f"Your deployments ({len(items)})"), rows, room, "deployments")


def _deployment(dep: HomeDeployment) -> Block:
    icon = DEPLOYMENT_ICONS.get(dep.status, "")
    where = f" · in <#{dep.channel}>" if dep.channel else ""
    lines = [
        f"{icon} *{blocks.escape(dep.name)}* · {blocks.escape(dep.profile)} {dep.version} · {dep.status}{where}"
    ]
    if dep.failed_run is not None:
        lines.append(f"Run #{dep.failed_run} failed: Retry or Roll back on its message in the channel.")
    if dep.update and not dep.upgrade_here:
        lines.append(f"{dep.update} is available: changes to `{dep.cluster}` are made from its channels.")
    block = blocks.section("\n".join(lines))
    if dep.update and dep.upgrade_here:
        value = json.dumps({"cluster": dep.cluster, "name": dep.name})
        block["accessory"] = blocks.button(f"Upgrade to {dep.update}", UPGRADE_ACTION, value, style="primary")
    return block


# -- the person's last runs ----------------------------------------------------------------------


def _runs(items: Sequence[HomeRun]) -> list[Block]:
    if not items:
        return []
    return [blocks.header("Your last runs"), blocks.section("\n".join(_run(r) for r in items))]


def _run(r: HomeRun) -> str:
    verb = {"deploy": "Deploy", "rollback": "Roll back", "delete": "Delete"}[r.kind]
    what = r.deployment if r.kind == "delete" else f"{blocks.escape(r.deployment)} {r.version}"
    where = f" · <#{r.channel}>" if r.channel else ""
    return f"• #{r.run} {verb} {what} → {r.cluster}: *{STATUS_TITLE[r.status]}* · {_when(r.when)}{where}"


def _when(iso: str) -> str:
    """`2026-05-01T12:00:00Z` as `2026-05-01 12:00 UTC`: a moment, never "3 minutes ago" (the
    Home is republished only when what it shows changes, not as time passes)."""
    if len(iso) >= 16 and iso[10] == "T":
        return f"{iso[:10]} {iso[11:16]} UTC"
    return iso
