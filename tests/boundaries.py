"""What the adapter-boundary tests share: provoke a failure, and check that what escaped is one of
the error tree's classes (defined in bot, not a library's), its words naming no library class."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.core.errors import AppError


def failure_of(fn: Callable[[], object]) -> BaseException:
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("expected a failure")


def in_tree(exc: BaseException, cls: type[AppError], *, unnamed: Iterable[str] = ()) -> Any:
    """`exc` is the tree's `cls`, defined in bot; its message and hint contain none of `unnamed`."""
    assert isinstance(exc, cls), repr(exc)
    module = type(exc).__module__
    assert module.startswith("bot."), module
    words = " ".join(str(getattr(exc, a, "") or "") for a in ("message", "hint"))
    for name in unnamed:
        assert name not in words, words
    return exc
