"""The error tree (bot.core.errors) and what each branch shows the person (`shown`)."""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable

import pytest

from bot.core import commands, errors
from bot.core.errors import (
    AppError,
    ClusterError,
    Conflict,
    DeployError,
    Forbidden,
    InvalidProfile,
    NotFound,
    OperatorError,
    PermanentClusterError,
    PermanentDeployError,
    Problem,
    TemporaryClusterError,
    TemporaryDeployError,
    Usage,
    UserError,
)
from bot.core.ports import ClusterError as PortsClusterError


def counter() -> Callable[[], str]:
    made: list[str] = []

    def new() -> str:
        made.append(f"inc{len(made) + 1:05d}")
        return made[-1]

    return new


# -- the tree ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (UserError, AppError),
        (Usage, UserError),
        (NotFound, UserError),
        (Conflict, UserError),
        (Forbidden, UserError),
        (InvalidProfile, UserError),
        (DeployError, AppError),
        (PermanentDeployError, DeployError),
        (TemporaryDeployError, DeployError),
        (ClusterError, DeployError),
        (PermanentClusterError, ClusterError),
        (PermanentClusterError, PermanentDeployError),
        (TemporaryClusterError, ClusterError),
        (TemporaryClusterError, TemporaryDeployError),
        (OperatorError, AppError),
    ],
)
def test_the_tree(cls: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(cls, parent)


def test_the_branches_are_apart() -> None:
    branches = (UserError, DeployError, OperatorError)
    for a in branches:
        for b in branches:
            assert a is b or not issubclass(a, b)
    assert not issubclass(PermanentDeployError, TemporaryDeployError)
    assert not issubclass(TemporaryDeployError, PermanentDeployError)


def test_the_command_errors_are_user_errors() -> None:
    assert issubclass(commands.UnknownCommand, UserError)
    assert issubclass(commands.MissingArguments, UserError)


def test_the_docstring_draws_the_tree() -> None:
    doc = errors.__doc__ or ""
    for name in ("AppError", "UserError", "DeployError", "PermanentDeployError", "TemporaryDeployError"):
        assert name in doc
    assert "OperatorError" in doc
    assert "├──" in doc
    assert "└──" in doc


def test_user_error_keeps_its_shape() -> None:
    err = UserError("no such profile", "try `/appprofile list`", field="name")
    assert (err.message, err.hint, err.field) == ("no such profile", "try `/appprofile list`", "name")
    assert str(err) == "no such profile\nHint: try `/appprofile list`"
    assert str(UserError("plain")) == "plain"
    assert str(Usage("`deploy` needs a cluster", "/appprofile deploy CLUSTER")).endswith("CLUSTER")


def test_invalid_profile_still_lists_every_problem() -> None:
    err = InvalidProfile([Problem("a is wrong", "fix a", "t1", "f1"), Problem("b is wrong", None, "t2")])
    assert "the profile has 2 problems" in err.message
    assert err.field == "f1"
    assert errors.problems_of(err) == err.problems
    assert errors.problems_of(UserError("x", "y", field="z"), tier="t") == [Problem("x", "y", "t", "z")]


# -- ClusterError: permanent or temporary by status ---------------------------------------------


@pytest.mark.parametrize("status", [409, 429, 500, 502, 503, 504])
def test_retryable_statuses_make_a_temporary_cluster_error(status: int) -> None:
    err = ClusterError("cluster c: patch deployments failed", status=status, hint="h", retry_after=3.0)
    assert isinstance(err, TemporaryClusterError)
    assert isinstance(err, TemporaryDeployError)
    assert not err.permanent
    assert err.temporary
    assert err.retry_after == 3.0
    assert (err.message, err.status, err.hint) == ("cluster c: patch deployments failed", status, "h")


@pytest.mark.parametrize("status", [None, 400, 401, 403, 404, 422])
def test_other_statuses_make_a_permanent_cluster_error(status: int | None) -> None:
    err = ClusterError("refused", status=status, retry_after=3.0)
    assert isinstance(err, PermanentClusterError)
    assert isinstance(err, PermanentDeployError)
    assert err.permanent
    assert err.retry_after is None  # a permanent failure has no time at which it would work


def test_cluster_error_keeps_its_old_constructor_and_attributes() -> None:
    err = ClusterError("boom", status=403, hint="grant it")
    assert (err.message, err.status, err.hint, str(err)) == ("boom", 403, "grant it", "boom")
    assert err.detail == "grant it"  # what a run's thread shows
    assert PortsClusterError is ClusterError
    with pytest.raises(ClusterError):
        raise TemporaryClusterError("busy", status=503)


def test_cluster_errors_survive_pickling() -> None:
    err = pickle.loads(pickle.dumps(ClusterError("busy", status=429, retry_after=2.0)))
    assert type(err) is TemporaryClusterError
    assert (err.message, err.status, err.retry_after) == ("busy", 429, 2.0)


# -- shown: what the person sees ------------------------------------------------------------------


def test_a_user_error_is_shown_with_its_hint_and_no_incident() -> None:
    new = counter()
    seen = errors.shown(NotFound("no profile `shop`", "did you mean `shop2`?"), new)
    assert seen == errors.Shown("no profile `shop`", "did you mean `shop2`?", None, False, "user")


def test_a_deploy_error_is_shown_with_its_hint_and_no_incident() -> None:
    seen = errors.shown(ClusterError("cluster c: forbidden", status=403, hint="grant patch"), counter())
    assert seen == errors.Shown("cluster c: forbidden", "grant patch", None, False, "deploy")


def test_a_temporary_deploy_error_says_when_to_try_again() -> None:
    later = errors.shown(TemporaryDeployError("busy", retry_after=7), counter())
    assert later.hint == "try again in 7 s"
    assert errors.shown(TemporaryDeployError("busy"), counter()).hint == "try again in a moment"
    assert errors.shown(PermanentDeployError("rollout failed"), counter()).hint is None


def test_an_operator_error_shows_only_an_incident_id() -> None:
    exc = OperatorError("cluster prod: the kubeconfig has no context `prod`", "set KUBECONFIG")
    seen = errors.shown(exc, counter())
    assert seen.incident == "inc00001"
    assert seen.log is True
    assert seen.kind == "operator"
    assert seen.text == "the bot is misconfigured (incident inc00001); an operator has the details"
    assert seen.hint is None
    assert "kubeconfig" not in seen.text
    assert "KUBECONFIG" not in seen.text


SECRET = "hunter2-s3cret-token"


@pytest.mark.parametrize(
    "bug",
    [
        KeyError(SECRET),
        ValueError(f"password={SECRET}"),
        RuntimeError(SECRET),
        sqlite3.OperationalError(f"no such table: {SECRET}"),
        AppError(SECRET),  # the root alone is no branch: treated as a bug
    ],
)
def test_a_bug_shows_an_incident_id_and_never_its_message(bug: Exception) -> None:
    seen = errors.shown(bug, counter())
    assert seen.kind == "bug"
    assert seen.log is True
    assert seen.incident == "inc00001"
    assert seen.text.startswith("internal error (incident inc00001)")
    assert seen.hint is None
    shown_text = seen.text + (seen.hint or "")
    for leak in (SECRET, "Traceback", type(bug).__name__, "password"):
        assert leak not in shown_text


def test_incident_ids_are_made_only_for_operator_errors_and_bugs() -> None:
    made: list[str] = []

    def new() -> str:
        made.append("x")
        return "x"

    for exc in (UserError("a"), InvalidProfile([Problem("p")]), ClusterError("c", status=503)):
        assert errors.shown(exc, new).incident is None
    assert made == []
    errors.shown(OperatorError("o"), new)
    errors.shown(ZeroDivisionError(), new)
    assert made == ["x", "x"]


def test_operator_error_logs_its_hint() -> None:
    assert str(OperatorError("helm not found", "set HELM_BIN")) == "helm not found\nHint: set HELM_BIN"
