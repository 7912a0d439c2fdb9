"""The two kinds of error the product knows.

`UserError` is written for the person at the keyboard: a message that says what is wrong and a
hint that says what to do. Anything else that escapes is a bug: the adapters log it with an
incident id and show the person only that id.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake the person can fix. `message` says what, `hint` says how."""

    def __init__(self, message: str, hint: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # A form field (block id) the error belongs to, so a modal can show it inline.
        self.field = field

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class NotFound(UserError):
    """A named thing (profile, version, deployment, cluster) does not exist."""


class Conflict(UserError):
    """The request clashes with what exists (a version already there, a deployment in use)."""


class Forbidden(UserError):
    """The person is not allowed to do this here."""


def did_you_mean(word: str, choices: Iterable[str], *, what: str = "") -> str:
    """A hint with the closest match and the full list of what is available."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    listing = ", ".join(options) if options else "none"
    label = f"available {what}: " if what else "available: "
    if close:
        return f"did you mean `{close[0]}`? {label}{listing}"
    return f"{label}{listing}"
