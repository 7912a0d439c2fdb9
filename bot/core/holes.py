"""Filling a plan's holes: the values only the deploy knows (DESIGN §4, issue 11).

A plan holds each tier's complete objects. Where a value comes from a lower tier's output (a
database's password, a Service's address) or from a password generated at the first deploy, the
object holds a hole (`<<db.PASSWORD>>`, `<<secret:PASSWORD>>`, see `macros.hole`). When the tiers
below have run, `fill` replaces exactly the holes the planner made, and nothing else: what is
applied is what the plan showed, with the hole values in. A string that is one hole becomes the
value itself (a port stays an integer); a hole inside a longer string is written as text. A
Secret's `data` is base64: a chart that encoded a hole (`b64enc`) has it filled inside the
decoded text and encoded again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.core import macros, render
from bot.core.errors import UserError

Lookup = Callable[[str], Any]


def found(value: Any) -> set[str]:
    """Every hole-shaped text in the string leaves of `value` (and in a Secret's decoded data)."""
    out: set[str] = set()
    for text in _strings(value):
        out.update(m.group(0) for m in macros.HOLE.finditer(text))
    return out


def stray(objects: Iterable[Mapping[str, Any]], made: Iterable[str]) -> list[str]:
    """Hole-shaped texts in the objects that the planner did not make: they would stay literal,
    so the plan refuses them rather than apply text that reads like a filled value."""
    known = set(made)
    out: set[str] = set()
    for obj in objects:
        out |= {h for h in found(_with_decoded(obj)) if h not in known}
    return sorted(out)


def fill(
    objects: list[dict[str, Any]],
    made: Iterable[str],
    outputs: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, str],
    *,
    tier: str,
) -> list[dict[str, Any]]:
    """The tier's objects with its holes filled; env checksums recomputed over the real values."""
    known = set(made)
    where = f"tier {tier}"

    def lookup(marker: str) -> Any:
        match = macros.HOLE.fullmatch(marker)
        assert match is not None  # only markers the planner made (and checked) get here
        return macros.fill_hole(match, outputs, secrets, tier=tier, where=where)

    filled = [_fill_object(obj, known, lookup) for obj in objects]
    return render.stamp_env_checksum(filled)


def fill_value(
    value: Any, made: Iterable[str], outputs: Mapping[str, Mapping[str, Any]], *, tier: str
) -> Any:
    """One value (an output's declared value) with its holes filled."""
    known = set(made)

    def lookup(marker: str) -> Any:
        match = macros.HOLE.fullmatch(marker)
        assert match is not None
        return macros.fill_hole(match, outputs, {}, tier=tier, where=f"tier {tier}: outputs")

    return _fill(value, known, lookup)


def _fill_object(obj: dict[str, Any], known: set[str], lookup: Lookup) -> dict[str, Any]:
    out: dict[str, Any] = _fill(obj, known, lookup)
    if out.get("kind") == "Secret" and isinstance(out.get("data"), dict):
        out["data"] = {k: _fill_encoded(v, known, lookup) for k, v in out["data"].items()}
    return out


def _fill_encoded(value: Any, known: set[str], lookup: Lookup) -> Any:
    decoded = _decoded(value)
    if decoded is None or "<<" not in decoded:
        return value
    text = macros.as_text(_fill(decoded, known, lookup))
    return base64.b64encode(text.encode()).decode()


def _fill(value: Any, known: set[str], lookup: Lookup) -> Any:
    if isinstance(value, str):
        return _fill_str(value, known, lookup)
    if isinstance(value, dict):
        return {k: _fill(v, known, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, known, lookup) for v in value]
    return value


def _fill_str(text: str, known: set[str], lookup: Lookup) -> Any:
    if "<<" not in text:
        return text
    whole = macros.HOLE.fullmatch(text)
    if whole is not None and text in known:
        return lookup(text)  # exactly one hole: keep the value's type

    def one(m: Any) -> str:
        return macros.as_text(lookup(m.group(0))) if m.group(0) in known else str(m.group(0))

    return macros.HOLE.sub(one, text)


def _decoded(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _with_decoded(obj: Mapping[str, Any]) -> Any:
    """The object, plus a Secret's `data` decoded, so a check sees holes a chart encoded."""
    if obj.get("kind") != "Secret" or not isinstance(obj.get("data"), dict):
        return obj
    return [obj, [d for d in (_decoded(v) for v in obj["data"].values()) if d is not None]]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def unfilled(objects: Iterable[Mapping[str, Any]], tier: str) -> None:
    """After filling: a hole left means a value was transformed past recognition (a chart that
    upper-cased or hashed it); applying it would write the hole's text, so the tier fails."""
    left = sorted({h for obj in objects for h in found(_with_decoded(obj))})
    if left:
        raise UserError(
            f"tier {tier}: {left[0]} is still in the objects after filling"
            + (f" (and {len(left) - 1} more)" if len(left) > 1 else ""),
            "a chart or template transformed a value known only at deploy time; pass it through unchanged",
        )
