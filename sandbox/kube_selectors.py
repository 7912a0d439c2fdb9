"""Label and field selectors, as list and watch requests use them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.kube_errors import ApiError

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    # Commas separate terms, except inside "in (a,b)".
    terms, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    for term in _split_terms(selector):
        m = _SET_TERM.match(term)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            present = m.group(1) in labels and labels[m.group(1)] in values
            if present != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            k, v = (s.strip() for s in term.split("!=", 1))
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_selector_matches(selector: str, obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    for term in _split_terms(selector):
        negate = "!=" in term
        field, value = (s.strip() for s in term.replace("==", "=").replace("!=", "=").split("=", 1))
        if field not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, "BadRequest", f'"{field}" is not a known field selector')
        actual = meta.get(field.split(".", 1)[1]) or ""
        if (actual == value) == negate:
            return False
    return True
