"""Block Kit builders: records in, Slack messages out. Pure functions, no Slack calls.

Every `Message` stays inside Slack's limits (≤ 50 blocks, section text ≤ 3000, text ≤ 40 000).
Long YAML and diffs go into thread replies, split into code-block chunks, and are cut with a note
past `MAX_THREAD_MESSAGES`. Secret values are masked using the catalogue's `secret` flags.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from bot.core import secrets
from bot.core.catalog import Catalog, ServiceType
from bot.core.errors import UserError
from bot.core.records import ProfileSummary, VersionRecord
from bot.core.secrets import MASK
from bot.slack import action_ids

if TYPE_CHECKING:
    from bot.core.records import Deployment, Run
    from bot.usecases.deletes import DeleteTarget
    from bot.usecases.queries import DeploymentView


def plural(n: int, word: str) -> str:
    """`1 version`, `2 versions`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


MAX_BLOCKS = 50
SECTION_MAX = 3000
CHUNK = 2900  # room for the ``` fences inside a 3000-character section
INLINE_MAX = 2400  # YAML up to this size…
INLINE_LINES = 12  # …and this many lines is shown in the message itself; longer goes to the thread
CHUNKS_PER_MESSAGE = 10  # 10 × 3000 stays well under the 40 000 text limit
MAX_THREAD_MESSAGES = 10
LIST_MAX = 40  # rows in a list message, leaving blocks for header and footer

HELP_ACTION = action_ids.HELP_ACTION
DELETE_ACTION = action_ids.DELETE_ACTION
DELETE_CHOOSE_ACTION = action_ids.DELETE_CHOOSE_ACTION
RETRY_ACTION = action_ids.RETRY_ACTION
CANCEL_ACTION = action_ids.CANCEL_ACTION


class Message(BaseModel):
    """One Slack message, plus replies to post in its thread."""

    text: str
    blocks: list[dict[str, Any]]
    thread: list[Message] = Field(default_factory=list)


# -- small pieces ------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped, or it reads them as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, 150) or " "}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}]}


def button(
    text: str,
    action_id: str,
    value: str = "",
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": _cut(text, 75)},
        "action_id": action_id,
    }
    if value:
        b["value"] = _cut(value, 2000)
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def _message(text: str, blocks: list[dict[str, Any]], thread: list[Message] | None = None) -> Message:
    return Message(text=_cut(text, 3000), blocks=blocks[:MAX_BLOCKS], thread=thread or [])


def plain(text: str) -> Message:
    return _message(text, [section(escape(text))])


# -- long text ---------------------------------------------------------------------------------


def code_chunks(text: str, size: int = CHUNK) -> list[str]:
    """Split text on line boundaries into escaped pieces that fit a code block in one section."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for line in escape(text).splitlines():
        # A line longer than a chunk is split hard; YAML that long is rare (base64 blobs).
        pieces = [line[i : i + size] for i in range(0, len(line), size)] or [""]
        for piece in pieces:
            if length + len(piece) + 1 > size and current:
                chunks.append("\n".join(current))
                current, length = [], 0
            current.append(piece)
            length += len(piece) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def _code(chunk: str) -> dict[str, Any]:
    return section(f"```\n{chunk}\n```")


def long_text(title: str, summary: str, text: str, *, what: str) -> Message:
    """`text` inline when short; otherwise a summary with the text in the thread, in parts."""
    chunks = code_chunks(text)
    if len(text) <= INLINE_MAX and len(text.splitlines()) <= INLINE_LINES and len(chunks) == 1:
        return _message(title, [header(title), section(summary), _code(chunks[0])])
    groups = [chunks[i : i + CHUNKS_PER_MESSAGE] for i in range(0, len(chunks), CHUNKS_PER_MESSAGE)]
    kept = groups[:MAX_THREAD_MESSAGES]
    thread = [
        _message(f"{title} ({what}, part {n}/{len(kept)})", [_code(c) for c in group])
        for n, group in enumerate(kept, start=1)
    ]
    lines = len(text.splitlines())
    note = f"The {what} ({lines} lines) is in the thread."
    if len(groups) > len(kept):
        shown = sum(len(g) for g in kept)
        note += (
            f" It was cut after {shown} of {len(chunks)} parts (Slack message limits); "
            "the `appprofile export` command line prints it whole."
        )
        thread[-1] = _message(
            thread[-1].text, [*thread[-1].blocks, context(f"_…cut: {len(chunks) - shown} more parts_")]
        )
    return _message(f"{title}: {note}", [header(title), section(summary), context(note)], thread)


# -- secrets -----------------------------------------------------------------------------------


def secret_outputs(catalog: Catalog) -> set[str]:
    names: set[str] = set()
    for svc in catalog.services.values():
        for o in svc.outputs:
            if o.secret:
                names.add(o.name)
                names.update(o.aliases)
    return names


def mask_outputs(outputs: dict[str, dict[str, str]], catalog: Catalog) -> dict[str, dict[str, str]]:
    secret = secret_outputs(catalog)
    return {
        tier: {k: (MASK if k in secret else v) for k, v in values.items()} for tier, values in outputs.items()
    }


# -- errors and help ---------------------------------------------------------------------------


def _unfenced(text: str) -> str:
    """A lone ``` (as in "paste it in a ``` block") would turn the rest of the message into code."""
    return text.replace("```", "three-backtick") if text.count("```") % 2 else text


def user_error(err: UserError, *, help_button: bool = False) -> Message:
    message, hint = _unfenced(err.message), _unfenced(err.hint or "")
    blocks = [section(f":warning: {escape(message)}")]
    if hint:
        blocks.append(context(escape(hint)))
    if help_button:
        blocks.append({"type": "actions", "elements": [button("Help", HELP_ACTION, "help")]})
    text = message if not hint else f"{message} — {hint}"
    return _message(text, blocks)


def incident(incident_id: str) -> Message:
    text = f"Something went wrong on our side (incident {incident_id}). The team can look it up by that id."
    return _message(text, [section(f":rotating_light: {text}")])


def help_message(text: str) -> Message:
    return _message(text, [section(text)])


# -- profiles ----------------------------------------------------------------------------------


def profile_list(items: Sequence[ProfileSummary]) -> Message:
    if not items:
        return plain("No profiles yet. Create one with `/appprofile create`.")
    rows = [
        f"*{escape(p.name)}* `{p.latest_version}` · {plural(p.version_count, 'version')}"
        + (f" — {escape(_cut(p.description, 200))}" if p.description else "")
        for p in items[:LIST_MAX]
    ]
    blocks = [header(f"App Profiles ({len(items)})"), *[section(r) for r in rows]]
    if len(items) > LIST_MAX:
        blocks.append(context(f"…and {len(items) - LIST_MAX} more"))
    return _message(f"{len(items)} App Profiles", blocks)


def version_card(rec: VersionRecord, catalog: Catalog, *, title: str = "", note: str = "") -> Message:
    """A version: who made it, its tiers, and its YAML (secrets masked); `note` follows the title."""
    heading = f"{title} {rec.ref}".strip()
    lines = [note] if note else []
    if rec.description:
        lines.append(escape(rec.description))
    origin = {"create": "created", "version": "new version", "clone": "cloned", "import": "imported"}[
        rec.kind
    ]
    meta = f"{origin} by <@{rec.created_by}> at {rec.created_at}"
    if rec.source:
        meta += f" from `{escape(rec.source)}`"
    if rec.tags:
        meta += " · tags: " + ", ".join(f"`{escape(t)}`" for t in rec.tags)
    lines.append(meta)
    try:
        tiers = rec.profile().tiers
        lines.append("*Tiers* (bottom first): " + " → ".join(f"`{t.name}` ({t.type})" for t in tiers))
    except UserError:
        pass  # an old version that no longer validates is still shown, just without the tier line
    return long_text(heading, "\n".join(lines), secrets.mask_yaml(rec.yaml, catalog), what="YAML")


def diff(name: str, v1: str, v2: str, text: str) -> Message:
    return long_text(f"{name} {v1} → {v2}", f"Differences from `{v1}` to `{v2}`:", text, what="diff")


def export(name: str, version: str, text: str, catalog: Catalog) -> Message:
    shown = secrets.mask_yaml(text, catalog)
    note = (
        "Secret values are masked here." if shown != text else "Paste it into `/appprofile create` to import."
    )
    return long_text(f"{name}@{version}", note, shown, what="YAML")


def _target_label(t: DeleteTarget, versions: int = 0) -> str:
    if t.kind == "deployment":
        return f"deployment {t.name} on {t.cluster}"
    if t.kind == "version":
        return f"{t.name}@{t.version}"
    return f"profile {t.name} ({plural(versions, 'version')})" if versions else f"profile {t.name}"


def delete_value(t: DeleteTarget) -> str:
    """A delete button's value: the target only; the use case re-checks everything on the click."""
    return t.model_dump_json()


def delete_confirm(target: DeleteTarget, what: str) -> Message:
    """`what` says exactly what goes (a deployment on which cluster, or profile versions)."""
    label = _target_label(target)
    confirm = {
        "title": {"type": "plain_text", "text": "Delete for good?"},
        "text": {"type": "mrkdwn", "text": _cut(what, 300)},
        "confirm": {"type": "plain_text", "text": "Delete"},
        "deny": {"type": "plain_text", "text": "Keep it"},
        "style": "danger",
    }
    blocks = [
        section(what),
        {
            "type": "actions",
            "block_id": "delete",
            "elements": [
                button(
                    f"Delete {label}", DELETE_ACTION, delete_value(target), style="danger", confirm=confirm
                ),
                button("Cancel", CANCEL_ACTION, "cancel"),
            ],
        },
    ]
    return _message(f"Delete {label}?", blocks)


def delete_choice(name: str, targets: Sequence[DeleteTarget], versions: int) -> Message:
    """`delete NAME` names a profile and a deployment: which one? Each leads to its confirmation."""
    labels = [_target_label(t, versions) for t in targets]
    text = f"`{escape(name)}` names more than one thing: " + ", ".join(labels) + ". Which one do you delete?"
    elements = [
        button(f"Delete {label}", DELETE_CHOOSE_ACTION, delete_value(t))
        for t, label in zip(targets, labels, strict=True)
    ]
    blocks = [
        section(text),
        {
            "type": "actions",
            "block_id": "delete-choice",
            "elements": [*elements[:24], button("Cancel", CANCEL_ACTION, "cancel")],
        },
        context(
            f"Next time name it: `/appprofile delete {escape(name)} from CLUSTER` is the deployment, "
            f"`/appprofile delete {escape(name)}@VERSION` one version of the profile."
        ),
    ]
    return _message(f"Delete which {name}?", blocks)


# -- services ----------------------------------------------------------------------------------


def services_list(types: Iterable[ServiceType]) -> Message:
    items = list(types)
    rows = [f"*{t.type}* — {escape(_cut(t.title or t.description, 200))}" for t in items[:LIST_MAX]]
    blocks = [header(f"Service types ({len(items)})"), section("\n".join(rows) or "none")]
    blocks.append(context("`/appprofile services TYPE` shows its parameters and outputs"))
    return _message(f"{len(items)} service types", blocks)


def service_detail(svc: ServiceType) -> Message:
    params = []
    for p in svc.params:
        bits: list[str] = [p.kind]
        if p.required:
            bits.append("required")
        if p.secret:
            bits.append("secret")
        if p.default is not None and not p.secret:
            bits.append(f"default `{escape(json.dumps(p.default))}`")
        line = f"• `{p.name}` ({', '.join(bits)})"
        if p.description:
            line += f" — {escape(p.description)}"
        params.append(line)
    outputs = [
        f"• `{o.name}`{' (secret, shown masked)' if o.secret else ''}"
        + (f" — also `{'`, `'.join(o.aliases)}`" if o.aliases else "")
        for o in svc.outputs
    ]
    blocks = [header(f"{svc.type}: {svc.title}"), section(escape(svc.description) or " ")]
    blocks.append(section("*Parameters*\n" + ("\n".join(params) or "none")))
    blocks.append(section("*Outputs*\n" + ("\n".join(outputs) or "what the tier declares in `outputs:`")))
    return _message(f"Service type {svc.type}", blocks)


# -- deployments -------------------------------------------------------------------------------


def deploy_preview(
    profile: str, version: str, cluster: str, deployment: str, summary: str, note: str
) -> Message:
    title = f"Deploy {profile}@{version} to {cluster} as {deployment}"
    return _message(
        f"{title}: {summary}. {note}", [header(title), section(escape(summary)), context(escape(note))]
    )


UPGRADE_ACTION = action_ids.UPGRADE_ACTION


def _failed_tier(run: Run) -> str:
    failed = [t.name for t in run.tiers if t.state == "failed"]
    return f" at tier {failed[0]}" if failed else ""


def _in_place(dep: Deployment, attempt: Run | None) -> str:
    """What actually runs: the version in place and its state, apart from a failed attempt."""
    if attempt is None:
        return f"{escape(dep.profile)} {dep.version} · {dep.status}"
    if dep.last_good_version:
        return f"{escape(dep.profile)} {dep.last_good_version} in place (its last good deploy)"
    return "nothing deployed successfully yet"


def _status_line(view: DeploymentView) -> str:
    dep, run, attempt = view.deployment, view.run, view.failed_attempt
    line = f"*{escape(dep.name)} on {escape(dep.cluster)}*: {_in_place(dep, attempt)}"
    if attempt is not None:
        reason = f" — {escape(_cut(attempt.error, 500))}" if attempt.error else ""
        line += f"\nlast attempt: {attempt.version} failed{_failed_tier(attempt)}{reason} (run #{attempt.id})"
    elif run is not None:
        line += f"\nlast run #{run.id} ({run.kind} {run.version}): {run.status.replace('_', ' ')}"
    if view.update:
        line += f"\n:arrow_up: update available: {view.update}"
    return line


def _status_button(view: DeploymentView) -> dict[str, Any] | None:
    dep, attempt = view.deployment, view.failed_attempt
    if view.update:
        value = json.dumps({"cluster": dep.cluster, "name": dep.name})
        return button(f"Upgrade to {view.update}", UPGRADE_ACTION, value, style="primary")
    if attempt is not None:
        return button(f"Retry {attempt.version}", RETRY_ACTION, str(attempt.id))
    return None


def status(items: Sequence[DeploymentView]) -> Message:
    if not items:
        return plain("Nothing is deployed yet.")
    out: list[dict[str, Any]] = [header("Status")]
    for view in items[:LIST_MAX]:
        block = section(_status_line(view))
        accessory = _status_button(view)
        if accessory is not None:
            block["accessory"] = accessory
        out.append(block)
    where = ", ".join(f"{v.deployment.name} on {v.deployment.cluster}" for v in items[:LIST_MAX])
    return _message(f"Status of {plural(len(items), 'deployment')}: {where}", out)


def output_value(value: str) -> str:
    """An output as every message shows it: in code, or "—" when it is empty (an address a
    LoadBalancer has not been given yet), so an empty value never renders as stray backticks."""
    return f"`{escape(value)}`" if value else "—"


def outputs(
    name: str, values: dict[str, dict[str, str]], catalog: Catalog, *, cluster: str | None = None
) -> Message:
    where = f"{name} on {cluster}" if cluster else name
    shown = mask_outputs(values, catalog)
    if not shown:
        return plain(f"{where} has published no outputs yet.")
    blocks: list[dict[str, Any]] = [header(f"Outputs of {where}")]
    for tier, kv in list(shown.items())[: MAX_BLOCKS - 2]:
        rows = "\n".join(f"`{escape(k)}` = {output_value(v)}" for k, v in kv.items()) or "none"
        blocks.append(section(f"*{escape(tier)}*\n{rows}"))
    return _message(f"Outputs of {where}", blocks)
