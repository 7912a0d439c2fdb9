"""Drift: whether the live objects still hold what the bot applied.

When an object is applied, each field the bot sent is recorded as a keyed digest of its value
as the API server stored it (the apply's answer: after defaulting and canonical forms, so "1000m"
stored as "1" is not drift). Later the same fields are read from the live object and digested
again; a digest that differs is a field changed by someone else (`kubectl edit`, a controller),
and an object that is gone was deleted by hand. Only field paths are ever shown, never values:
a digest cannot be turned back into a password, and a Secret's drift names its keys only.

    applied body ──▶ paths (what we own) ──▶ value in the stored answer ──▶ digest ─▶ inventory
    live object  ──▶ value at the same paths ──────────────────────────────▶ digest ─▶ compare

Fields the server owns (`status`, uid, resourceVersion, managedFields…) are never paths: only
labels and annotations of `metadata` are. Pure: the caller reads the objects and holds the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.core.ports import ObjectRef
from bot.core.records import Deployment

_MISSING = object()
_SKIPPED_TOP = ("apiVersion", "kind", "status")
_METADATA_KEPT = ("labels", "annotations")
DIGEST_CHARS = 16

Path = tuple[str, ...]


class DriftedObject(BaseModel):
    """One object that no longer holds what was applied: which fields, or that it is gone."""

    model_config = ConfigDict(frozen=True)

    ref: ObjectRef
    tier: str
    state: Literal["changed", "deleted"]
    fields: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        if self.state == "deleted":
            return f"{self.ref.label} was deleted"
        return f"{self.ref.label}: {', '.join(self.fields)}"


class DriftReport(BaseModel):
    """What a check of one deployment found: the drifted objects and how many were checked."""

    model_config = ConfigDict(frozen=True)

    cluster: str
    deployment: str
    objects: tuple[DriftedObject, ...] = ()
    checked: int = 0
    unrecorded: int = 0  # applied before field digests were kept: cannot be compared

    @property
    def drifted(self) -> bool:
        return bool(self.objects)

    def digest(self) -> str:
        """Stable for the same drift, so one drift is announced once, not at every check."""
        body = json.dumps([o.model_dump(mode="json") for o in self.objects], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:DIGEST_CHARS] if self.objects else ""


def paths(applied: Mapping[str, Any]) -> list[Path]:
    """Every leaf field the applied body sets, as paths (list items keyed by `name` when they
    all have one, else by position)."""
    out: list[Path] = []
    for key, value in applied.items():
        if key in _SKIPPED_TOP:
            continue
        if key == "metadata" and isinstance(value, Mapping):
            for kept in _METADATA_KEPT:
                if kept in value:
                    out.extend(_leaves(value[kept], ("metadata", kept)))
            continue
        out.extend(_leaves(value, (key,)))
    return out


def _leaves(value: Any, at: Path) -> Iterator[Path]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _leaves(inner, (*at, str(key)))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, (*at, _item_segment(value, i)))
    else:
        yield at


def _item_segment(items: Sequence[Any], i: int) -> str:
    named = all(isinstance(it, Mapping) and isinstance(it.get("name"), str) for it in items)
    return f"[name={items[i]['name']}]" if named else f"[{i}]"


def value_at(obj: Mapping[str, Any], path: Path) -> Any:
    """The value at `path`, or a marker for "not there". A Secret's `stringData.K` is read from
    `data.K` (the server keeps only `data`), decoded."""
    if obj.get("kind") == "Secret" and len(path) == 2 and path[0] == "stringData":
        raw = _walk(obj, ("data", path[1]))
        return _decoded(raw) if isinstance(raw, str) else raw
    return _walk(obj, path)


def _walk(node: Any, path: Path) -> Any:
    for segment in path:
        if segment.startswith("[") and isinstance(node, list):
            node = _item(node, segment[1:-1])
        elif isinstance(node, Mapping) and segment in node:
            node = node[segment]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _item(items: list[Any], selector: str) -> Any:
    if selector.startswith("name="):
        wanted = selector.removeprefix("name=")
        return next((it for it in items if isinstance(it, Mapping) and it.get("name") == wanted), _MISSING)
    index = int(selector)
    return items[index] if index < len(items) else _MISSING


def _decoded(raw: str) -> str:
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return raw


def _digest(key: bytes, path: Path, value: Any) -> str:
    # The path is in the digest too: two fields holding one value do not share a digest.
    shown = "\0missing" if value is _MISSING else value
    text = json.dumps([list(path), shown], sort_keys=True, default=str)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]


def path_text(path: Path) -> str:
    """For people: `spec.template.spec.containers[name=api].image`, a key with dots quoted
    (`metadata.labels["app.kubernetes.io/name"]`)."""
    out = ""
    for s in path:
        if s.startswith("["):
            out += s
        elif "." in s or not s:
            out += f"[{json.dumps(s)}]"
        else:
            out += f".{s}" if out else s
    return out


Recorded = list[tuple[Path, str]]


def fields(applied: Mapping[str, Any], stored: Mapping[str, Any], key: bytes) -> Recorded:
    """What to keep after an apply: each applied path with the digest of its value as stored."""
    return [(p, _digest(key, p, value_at(stored, p))) for p in paths(applied)]


def to_json(recorded: Recorded) -> list[list[Any]]:
    return [[list(p), d] for p, d in recorded]


def from_json(raw: Any) -> Recorded:
    """Recorded fields back from their JSON form; anything malformed is dropped (then nothing
    to compare)."""
    out: Recorded = []
    for item in raw if isinstance(raw, list) else []:
        if (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], list)
            and isinstance(item[1], str)
        ):
            out.append((tuple(str(s) for s in item[0]), item[1]))
    return out


def changed(recorded: Recorded, live: Mapping[str, Any], key: bytes) -> list[str]:
    """The recorded fields whose live value no longer has the recorded digest, as text."""
    return [
        path_text(p)
        for p, digest in recorded
        if not hmac.compare_digest(_digest(key, p, value_at(live, p)), digest)
    ]


def object_key(item: Mapping[str, Any]) -> str:
    """How an applied object's digests are filed: `apiVersion|kind|namespace|name`, read from an
    inventory entry or an object (its metadata)."""
    meta = item.get("metadata") if isinstance(item.get("metadata"), Mapping) else item
    assert isinstance(meta, Mapping)
    api = item.get("apiVersion") or item.get("api_version") or ""
    return "|".join(str(p or "") for p in (api, item.get("kind"), meta.get("namespace"), meta.get("name")))


def report(
    read: Callable[[ObjectRef], Mapping[str, Any] | None],
    dep: Deployment,
    key: bytes,
    recorded: Mapping[str, Any],
) -> DriftReport:
    """Every object the deployment applied, read back and compared with its `recorded` digests
    (object key → `to_json` form, as the store keeps them)."""
    objects: list[DriftedObject] = []
    unrecorded = 0
    for item in dep.inventory:
        ref = _ref(item)
        fields = from_json(recorded.get(object_key(item)))
        live = read(ref)
        tier = str(item.get("tier") or "")
        if live is None:
            objects.append(DriftedObject(ref=ref, tier=tier, state="deleted"))
        elif not fields:
            unrecorded += 1
        elif differ := changed(fields, live, key):
            objects.append(DriftedObject(ref=ref, tier=tier, state="changed", fields=tuple(differ)))
    return DriftReport(
        cluster=dep.cluster,
        deployment=dep.name,
        objects=tuple(objects),
        checked=len(dep.inventory),
        unrecorded=unrecorded,
    )


def _ref(item: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef(
        api_version=str(item.get("apiVersion") or ""),
        kind=str(item.get("kind") or ""),
        name=str(item.get("name") or ""),
        namespace=str(item["namespace"]) if item.get("namespace") else None,
    )
