"""What a plan will apply, drawn for the person who approves it (issue: approvers approve blind).

The progress message and the approval card carry a digest: objects counted by kind per tier, and
by name everything sensitive (RBAC, Secrets, cluster-scoped objects, new namespaces, images,
pod-security exceptions). The "View plan" button opens a modal with every change. All of it is
drawn from the plan stored with the run, so the card shows exactly what the run applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack import action_ids

VIEW_PLAN_ACTION = action_ids.VIEW_PLAN_ACTION
MODAL_MAX_BLOCKS = 100
SECTION_MAX = 3000
_CHUNK = 2800
_SENSITIVE = (
    ("rbac", "RBAC"),
    ("secrets", "Secrets"),
    ("cluster_scoped", "Cluster-scoped"),
    ("namespaces", "New namespaces"),
    ("images", "Images"),
    ("pod_security", "Pod-security exceptions"),
)
_MAX_NAMED = 8  # names shown per sensitive group on a card; the modal lists them all
_ICONS = {"create": "+", "change": "~", "unchanged": "=", "prune": "-"}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def kinds_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def _kinds_by_tier(plan: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for tier in plan.get("tiers") or []:
        counts = out.setdefault(str(tier.get("name")), {})
        for obj in tier.get("objects") or []:
            kind = str(obj.get("kind"))
            counts[kind] = counts.get(kind, 0) + 1
    return out


def digest_text(plan: Mapping[str, Any], *, max_tiers: int = 12) -> str:
    """mrkdwn: per tier what it applies, then each sensitive group by name (cut with a count)."""
    by_tier = _kinds_by_tier(plan)
    lines = [f"• *{_esc(t)}*: {kinds_line(c) or 'nothing'}" for t, c in list(by_tier.items())[:max_tiers]]
    if len(by_tier) > max_tiers:
        lines.append(f"• …and {len(by_tier) - max_tiers} more tiers (View plan lists them)")
    sensitive = plan.get("sensitive") or {}
    for key, title in _SENSITIVE:
        names = [str(n) for n in sensitive.get(key) or []]
        if names:
            shown = ", ".join(f"`{_esc(n)}`" for n in names[:_MAX_NAMED])
            more = f" and {len(names) - _MAX_NAMED} more" if len(names) > _MAX_NAMED else ""
            lines.append(f":lock: *{title}* ({len(names)}): {shown}{more}")
    overwrites = [str(o) for o in plan.get("overwrites") or []]
    if overwrites:
        shown = "\n".join(f"    ◦ {_esc(o)}" for o in overwrites[:_MAX_NAMED])
        more = f"\n    ◦ …and {len(overwrites) - _MAX_NAMED} more" if len(overwrites) > _MAX_NAMED else ""
        lines.append(f":warning: *Overwrites hand edits* ({len(overwrites)} objects):\n{shown}{more}")
    text = "\n".join(lines)
    return text if len(text) <= SECTION_MAX else text[: SECTION_MAX - 1] + "…"


def view_plan_button(run_id: int) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": VIEW_PLAN_ACTION,
        "text": {"type": "plain_text", "text": "View plan"},
        "value": str(run_id),
    }


def change_lines(plan: Mapping[str, Any]) -> list[str]:
    out = []
    for c in plan.get("changes") or []:
        ref = c.get("ref") or {}
        ns = ref.get("namespace") or "(cluster)"
        out.append(
            f"`{_ICONS.get(str(c.get('action')), '?')}` {c.get('action')} · {_esc(str(c.get('tier')))} · "
            f"{ref.get('kind')} · {_esc(str(ns))} · {_esc(str(ref.get('name')))}"
        )
    return out


def _sections(lines: list[str]) -> list[str]:
    chunks: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > _CHUNK:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line[:_CHUNK]
    if current:
        chunks.append(current)
    return chunks


def plan_modal(title: str, plan: Mapping[str, Any]) -> dict[str, Any]:
    """The full plan as a modal: every change (change, tier, kind, namespace, name), in at most
    100 blocks whatever the number of tiers; past that a count of what is left."""
    head = [
        {"type": "section", "text": {"type": "mrkdwn", "text": digest_text(plan, max_tiers=50)}},
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "change · tier · kind · namespace · name"}],
        },
    ]
    lines = change_lines(plan)
    chunks = _sections(lines)
    room = MODAL_MAX_BLOCKS - len(head) - 1
    body: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks[:room]
    ]
    if len(chunks) > room:
        left = sum(c.count("\n") + 1 for c in chunks[room:])
        body.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {left} more changes"}]}
        )
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24] or "Plan"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": head + body,
    }
