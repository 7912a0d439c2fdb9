"""The two kinds of error the product knows.

`UserError` is written for the person at the keyboard: a message that says what is wrong and a
hint that says what to do. Anything else that escapes is a bug: the adapters log it with an
incident id and show the person only that id. `InvalidProfile` is the UserError for a profile
with several mistakes: it holds them all as `Problem`s so one reply lists every fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NamedTuple


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


class Problem(NamedTuple):
    """One thing wrong with a profile: where (tier, form field), what, and how to fix it.

    `message` is a whole sentence that already names the tier and field, so it reads on its own.
    """

    message: str
    hint: str | None = None
    tier: str | None = None
    field: str | None = None


MAX_PROBLEMS_SHOWN = 50


class InvalidProfile(UserError):
    """Every problem found in a profile, reported at once so one round trip fixes them all.

    One problem reads exactly like a plain UserError (its message and hint); several become a
    numbered list, each with its fix, cut at MAX_PROBLEMS_SHOWN. `field` is the first problem's
    form field, so a modal can still point at one input.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        unique = list(dict.fromkeys(problems))  # the same mistake seen by two checks counts once
        if not unique:
            raise ValueError("InvalidProfile needs at least one problem")
        self.problems = unique
        field = next((p.field for p in unique if p.field), None)
        if len(unique) == 1:
            super().__init__(unique[0].message, unique[0].hint, field=field)
            return
        super().__init__(
            _numbered(unique),
            "fix each problem listed and send the profile again; nothing was saved",
            field=field,
        )


def _numbered(problems: list[Problem]) -> str:
    shown = problems[:MAX_PROBLEMS_SHOWN]
    lines = [f"the profile has {len(problems)} problems:"]
    for n, p in enumerate(shown, start=1):
        lines.append(f"{n}. {p.message}" + (f" — {p.hint}" if p.hint else ""))
    if len(problems) > len(shown):
        lines.append(f"…and {len(problems) - len(shown)} more")
    return "\n".join(lines)


def problems_of(exc: UserError, *, tier: str | None = None) -> list[Problem]:
    """The problems an error stands for: its own list, or itself as the only one."""
    if isinstance(exc, InvalidProfile):
        return list(exc.problems)
    return [Problem(exc.message, exc.hint, tier, exc.field)]


KIND_PHRASES: dict[str, str] = {
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "list": "a list",
    "object": "an object (a mapping of keys to values)",
}


def kind_phrase(kind: str) -> str:
    """`integer` -> `an integer`: a kind as it reads after "must be"."""
    return KIND_PHRASES.get(kind, f"a {kind}")


def describe(value: object) -> str:
    """What a value is, in words (`text`, `a list`, `a boolean`), never a Python type name."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"
