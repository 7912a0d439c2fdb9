"""How secrets look when they must be mentioned: masked, and scrubbed out of free text."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "••••••"
# Shorter values would mask ordinary words ("on", "db") in messages; generated secrets are long.
MIN_SECRET_LENGTH = 4


def redact(text: str, values: Iterable[str], *, min_length: int = MIN_SECRET_LENGTH) -> str:
    """Replace every known secret value in `text`, longest first (a value may contain another)."""
    for v in sorted({v for v in values if v and len(v) >= min_length}, key=len, reverse=True):
        text = text.replace(v, MASK)
    return text
