"""Modal forms for commands given without everything they need (DESIGN §1), and reading them back.

Each form carries what it was opened with (channel, source profile) in `private_metadata`; what
a person typed is read from `view.state` and checked here before any use case runs. A problem
comes back as a `UserError` whose `field` is the block id, so Slack shows it on that input.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core import model
from bot.core.errors import UserError
from bot.slack import action_ids

CREATE = "appprofile_create"
VERSION = "appprofile_version"
CLONE = "appprofile_clone"
ACTION = action_ids.INPUT_ACTION  # every input's action id; the block id names the field
INPUT_MAX = 3000  # Slack's limit for a plain_text_input value


class FormContext(BaseModel):
    """What the form was opened with; travels in private_metadata (≤ 3000 characters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str
    name: str | None = None
    version: str | None = None


class CreateForm(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None
    version: str | None
    description: str | None
    tags: list[str] | None
    yaml: str


class VersionForm(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    yaml: str | None  # None: the source version unchanged, under the new number


class CloneForm(BaseModel):
    model_config = ConfigDict(frozen=True)

    new_name: str
    new_version: str | None


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    placeholder: str = "",
    multiline: bool = False,
    optional: bool = False,
    hint: str = "",
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": ACTION, "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = _plain(placeholder[:150])
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint[:2000])
    return block


def _view(
    callback_id: str, title: str, submit: str, ctx: FormContext, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title[:24]),
        "submit": _plain(submit[:24]),
        "close": _plain("Cancel"),
        "private_metadata": ctx.model_dump_json(exclude_none=True),
        "blocks": blocks,
    }


def create_view(channel: str) -> dict[str, Any]:
    blocks = [
        _input(
            "name",
            "Name",
            placeholder="counter-app",
            optional=True,
            hint="Leave empty to use the YAML's name",
        ),
        _input(
            "version", "Version", placeholder="1.0.0", optional=True, hint="`v2`, `2` and `2.0` mean 2.0.0"
        ),
        _input("description", "Description", optional=True),
        _input("tags", "Tags", placeholder="owner:platform, team:web", optional=True, hint="Comma-separated"),
        _input(
            "yaml",
            "Profile YAML",
            multiline=True,
            placeholder="name: counter-app\ntiers:\n  - name: api\n    type: container",
            hint="Up to 3000 characters here; paste longer YAML with `/appprofile create` in a code block",
        ),
    ]
    return _view(CREATE, "Create App Profile", "Create", FormContext(channel=channel), blocks)


def version_view(
    channel: str, name: str, source_version: str, source_yaml: str, new_version: str | None
) -> dict[str, Any]:
    fits = len(source_yaml) <= INPUT_MAX
    intro = f"A new version of *{name}*, starting from `{source_version}`."
    if not fits:
        intro += " Its YAML is longer than a form can hold: leave the YAML empty to copy it unchanged."
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": intro}},
        _input("version", "New version", initial=new_version, placeholder="1.1.0"),
        _input(
            "yaml",
            "Profile YAML",
            initial=source_yaml if fits else None,
            multiline=True,
            optional=True,
            hint=f"Leave empty to copy {source_version} unchanged",
        ),
    ]
    ctx = FormContext(channel=channel, name=name, version=source_version)
    return _view(VERSION, f"New version of {name}"[:24], "Create version", ctx, blocks)


def clone_view(
    channel: str, source: str, source_version: str | None, new_name: str | None, new_version: str | None
) -> dict[str, Any]:
    ref = f"{source}@{source_version}" if source_version else f"{source} (latest version)"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Clone *{ref}* under a new name."}},
        _input("new_name", "New profile name", initial=new_name, placeholder=f"{source}-copy"[:40]),
        _input(
            "new_version",
            "Version of the copy",
            initial=new_version,
            optional=True,
            placeholder=source_version or "1.0.0",
            hint="Leave empty to keep the source's version number",
        ),
    ]
    ctx = FormContext(channel=channel, name=source, version=source_version)
    return _view(CLONE, "Clone App Profile", "Clone", ctx, blocks)


# -- reading submissions ------------------------------------------------------------------------


def context(view: dict[str, Any]) -> FormContext:
    try:
        return FormContext.model_validate(json.loads(view.get("private_metadata") or "{}"))
    except (ValueError, ValidationError):
        # Slack returns private_metadata untouched, so this is not something a person can fix.
        raise RuntimeError("form private_metadata is not ours") from None


def values(view: dict[str, Any]) -> dict[str, str | None]:
    """block id -> the text typed (None when empty)."""
    out: dict[str, str | None] = {}
    state = view.get("state", {}).get("values", {})
    for block_id, actions in state.items():
        value = (actions.get(ACTION) or {}).get("value") if isinstance(actions, dict) else None
        out[block_id] = value.strip() if isinstance(value, str) and value.strip() else None
    return out


def _name(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not model.NAME_RE.match(value):
        raise UserError(
            f"`{value}` is not a valid profile name",
            "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 40",
            field=field,
        )
    return value


def _version(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return model.normalize_version(value)
    except UserError as exc:
        raise UserError(exc.message, exc.hint, field=field) from None


def read_create(view: dict[str, Any]) -> CreateForm:
    v = values(view)
    yaml_text = v.get("yaml")
    if not yaml_text:
        raise UserError("the profile YAML is empty", "paste the profile's YAML", field="yaml")
    tags = [t.strip() for t in (v.get("tags") or "").split(",") if t.strip()] or None
    return CreateForm(
        name=_name(v.get("name"), "name"),
        version=_version(v.get("version"), "version"),
        description=v.get("description"),
        tags=tags,
        yaml=yaml_text + "\n",
    )


def read_version(view: dict[str, Any]) -> VersionForm:
    v = values(view)
    version = _version(v.get("version"), "version")
    if version is None:
        raise UserError("the new version is missing", "e.g. 1.1.0", field="version")
    yaml_text = v.get("yaml")
    return VersionForm(version=version, yaml=yaml_text + "\n" if yaml_text else None)


def read_clone(view: dict[str, Any]) -> CloneForm:
    v = values(view)
    new_name = _name(v.get("new_name"), "new_name")
    if new_name is None:
        raise UserError("the new profile name is missing", "e.g. counter-copy", field="new_name")
    return CloneForm(new_name=new_name, new_version=_version(v.get("new_version"), "new_version"))


def error_block(view: dict[str, Any], err: UserError, default: str) -> str:
    """The block an error belongs to: its `field` if the form has that input, else `default`."""
    blocks = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    aliases = {"name": "new_name", "version": "new_version"} if "new_name" in blocks else {}
    field = aliases.get(err.field or "", err.field)
    return field if field is not None and field in blocks else default
