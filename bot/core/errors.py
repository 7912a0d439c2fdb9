"""The product's one error tree, and what each branch shows the person.

```
AppError
├── UserError ............ message + hint, shown to the person, who can fix it
│   ├── Usage              a command used the wrong way; the hint is its usage
│   ├── NotFound           a named thing (profile, version, deployment, cluster) does not exist
│   ├── Conflict           the request clashes with what exists
│   ├── Forbidden          the person is not allowed to do this here
│   └── InvalidProfile     every problem of a profile at once, as `Problem`s
├── DeployError .......... message + detail (+ hint); a run fails with it
│   ├── PermanentDeployError    rejected by the API (4xx but 409/429), rollout failed, policy
│   │   └── PermanentClusterError ──┐
│   └── TemporaryDeployError    retry_after: float | None (409, 429, 5xx, refused, timeouts)
│       └── TemporaryClusterError ──┤
│                                   └── ClusterError: the Kubernetes API's failures;
│                                       `ClusterError(msg, status=…)` is one of the two, by status
├── OperatorError ........ the bot is misconfigured (kubeconfig context, config, database, Slack
│                          token, helm binary): logged in full with an incident id; the person
│                          sees "the bot is misconfigured (incident …); an operator has the details"
└── (anything else) ...... a bug: logged with its traceback and an incident id; the person sees
                           "internal error (incident …)", never the exception or its message
```

Adapters raise these and nothing else: each maps its library's exceptions at its boundary.
`shown` turns any exception into what the person sees and whether (and under which incident id)
it is logged. `InvalidProfile` holds every mistake of a profile as `Problem`s so one reply lists
every fix. Core is pure: incident ids come from a callable the adapter passes in.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import ClassVar, Literal, NamedTuple


class AppError(Exception):
    """The root of every error the product raises on purpose. Anything else is a bug."""


class UserError(AppError):
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


class Usage(UserError):
    """A command used the wrong way (unknown, arguments missing); the hint says how to use it."""


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


# -- a run's failures ---------------------------------------------------------------------------


class DeployError(AppError):
    """Applying to a cluster failed: `message` says what, for the run's message; `detail` is the
    longer story for its thread; `hint` (if any) says what to do. `permanent` errors fail the
    same way again; temporary ones may succeed later (`retry_after` seconds, when known)."""

    permanent: ClassVar[bool] = True
    retry_after: float | None = None

    def __init__(self, message: str, detail: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint

    @property
    def temporary(self) -> bool:
        return not self.permanent


class PermanentDeployError(DeployError):
    """Trying again changes nothing: the API rejected the request, a rollout failed, policy said no."""

    permanent = True


class TemporaryDeployError(DeployError):
    """The cluster was busy or out of reach (429, 5xx, refused, timed out); `retry_after` is the
    server's own wish in seconds when it said one."""

    permanent = False

    def __init__(
        self, message: str, detail: str = "", *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, detail, hint=hint)
        self.retry_after = retry_after


def is_temporary_status(status: int | None) -> bool:
    """HTTP statuses worth asking again: 409 (a concurrent change), 429 (slow down) and 5xx."""
    return status is not None and (status in (409, 429) or 500 <= status <= 599)


class ClusterError(DeployError):
    """A Kubernetes API failure, already phrased for a person (verb, resource, the API's message).

    `ClusterError(message, status=…, hint=…)` builds a `TemporaryClusterError` when the status is
    worth retrying (`is_temporary_status`), else a `PermanentClusterError`, so `except
    ClusterError` catches both and `except TemporaryDeployError` the retryable ones. `detail` is
    the hint (what a run's thread shows).
    """

    status: int | None

    def __new__(
        cls,
        message: str,
        *,
        status: int | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> ClusterError:
        kind: type[ClusterError] = cls
        if cls is ClusterError:
            kind = TemporaryClusterError if is_temporary_status(status) else PermanentClusterError
        made: ClusterError = DeployError.__new__(kind, message)
        return made

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint or "", hint=hint)
        self.status = status
        self.retry_after = None if self.permanent else retry_after


class PermanentClusterError(ClusterError, PermanentDeployError):
    """The API refused (403, 404, 422, …) or the cluster cannot serve what was asked."""


class TemporaryClusterError(ClusterError, TemporaryDeployError):
    """The API was busy, failing or unreachable; `retry_after` from its Retry-After header."""


# -- the bot's own setup ------------------------------------------------------------------------


class OperatorError(AppError):
    """The bot is misconfigured or its surroundings are broken: only an operator can fix it.

    `message` and `hint` are for the operator's log; the person sees an incident id only.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


# -- what a person sees -------------------------------------------------------------------------

MISCONFIGURED = "the bot is misconfigured (incident {incident}); an operator has the details"
INTERNAL = "internal error (incident {incident}); an operator can look it up by that id"

ShownKind = Literal["user", "deploy", "operator", "bug"]


class Shown(NamedTuple):
    """What one failure shows the person (`text`, `hint`) and how the adapter logs it: `log` says
    whether to log it in full (with its traceback) under `incident`."""

    text: str
    hint: str | None
    incident: str | None
    log: bool
    kind: ShownKind


def shown(exc: BaseException, new_incident: Callable[[], str]) -> Shown:
    """Any exception as the person may see it. Only operator errors and bugs get an incident id
    (from `new_incident`) and are logged; a bug's own message is never shown."""
    if isinstance(exc, UserError):
        return Shown(exc.message, exc.hint, None, False, "user")
    if isinstance(exc, DeployError):
        return Shown(exc.message, exc.hint or _retry_hint(exc), None, False, "deploy")
    incident = new_incident()
    if isinstance(exc, OperatorError):
        return Shown(MISCONFIGURED.format(incident=incident), None, incident, True, "operator")
    return Shown(INTERNAL.format(incident=incident), None, incident, True, "bug")


def _retry_hint(exc: DeployError) -> str | None:
    if exc.permanent:
        return None
    if exc.retry_after:
        return f"try again in {exc.retry_after:g} s"
    return "try again in a moment"
