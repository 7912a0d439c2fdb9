"""A promoted run's lineage and how long ago its source succeeded: pure, from the caller's clock."""

from __future__ import annotations

import pytest

from bot.core import lineage
from bot.core.windows import ago_text

SOURCE = lineage.PromotedFrom(
    cluster="staging",
    deployment="shop",
    run=12,
    version="1.1.0",
    succeeded_at="2027-01-15T08:00:00Z",
    succeeded_at_epoch=1_800_000_000.0,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "just now"),
        (59, "just now"),
        (60, "1 min ago"),
        (3 * 3600 + 59, "3 h ago"),
        (3 * 3600 + 20 * 60, "3 h 20 min ago"),
        (2 * 86400 + 15 * 3600 + 1800, "2 d 15 h ago"),
    ],
)
def test_ago_text(seconds: float, text: str) -> None:
    assert ago_text(seconds) == text


def test_the_line_a_card_shows() -> None:
    assert SOURCE.text(1_800_000_000.0 + 3 * 3600) == "promotion of shop from staging (succeeded 3 h ago)"


def test_options_round_trip_and_other_runs_have_none() -> None:
    assert lineage.of(SOURCE.option()) == SOURCE
    assert lineage.of({"set": {"api.replicas": "3"}}) is None
    assert lineage.of({"promoted_from": "staging"}) is None
    assert lineage.of({"promoted_from": {"cluster": "staging"}}) is None
