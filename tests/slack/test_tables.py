"""`deployments`, `versions` and `audit` as Slack table blocks, paged by Previous / Next buttons:
signed commands and clicks into the real app, answers read from the fake Slack's webhook calls
(which validate every block through slack_sdk; the `slack` fixture fails the test on a rejection)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.core import model
from bot.core.secrets import MASK
from bot.slack import tables
from bot.store.db import Store
from sandbox.slack_api import Call, FakeSlack, block_errors
from tests.rig import CHANNEL, USER, Reply, SlackDriver

# -- reading what the app sent ---------------------------------------------------------------------


def _cell(cell: dict[str, Any]) -> str:
    if cell["type"] == "raw_text":
        return str(cell["text"])
    assert cell["type"] == "rich_text", cell
    (part,) = cell["elements"]
    return "".join(f"<@{e['user_id']}>" if e["type"] == "user" else e["text"] for e in part["elements"])


def _table(call: Call) -> list[list[str]]:
    """The message's one table, as text: the header row first."""
    (table,) = [b for b in call.params["blocks"] if b["type"] == "table"]
    return [[_cell(c) for c in row] for row in table["rows"]]


def _buttons(call: Call) -> dict[str, dict[str, Any]]:
    return {
        e["text"]["text"]: e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]
    }


def _heading(call: Call) -> str:
    return str(next(b for b in call.params["blocks"] if b["type"] == "header")["text"]["text"])


def _valid(call: Call) -> Call:
    """Accepted by the fake Slack, and every block (a rich_text cell too) round-trips through
    slack_sdk with nothing it does not know."""
    assert call.status == 200 and call.response.get("ok"), call.response
    blocks = call.params["blocks"]
    assert block_errors(blocks, 50) == []
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        assert set(block) <= set(parsed.to_dict()), block
        for row in block.get("rows", []):
            assert len(row) <= 20
            for cell in row:
                if cell["type"] == "rich_text":
                    rich = Block.parse(cell)
                    assert rich is not None and rich.to_dict() == cell
    return call


def _ask(slack: SlackDriver, text: str, contains: str = "") -> Call:
    reply = slack.command(text)
    assert reply.status == 200
    return _valid(slack.answer(reply, contains))


def _press(slack: SlackDriver, button: dict[str, Any]) -> tuple[Reply, Call]:
    reply = slack.click(
        {"type": "button", "action_id": button["action_id"], "block_id": "page", "value": button["value"]}
    )
    assert reply.status == 200
    return reply, _valid(slack.answer(reply))


# -- what the lists hold ---------------------------------------------------------------------------


def _profile(name: str, version: str) -> model.Profile:
    return model.from_data(
        {"name": name, "version": version, "tiers": [{"name": "api", "type": "container", "properties": {}}]}
    )


def _versions(store: Store, n: int) -> list[str]:
    """`n` versions of counter-app (1.0.0, 1.1.0, …), oldest first as `versions` lists them."""
    made = [f"1.{i}.0" for i in range(n)]
    for v in made:
        store.create_version(_profile("counter-app", v), actor=USER, channel=CHANNEL, kind="version")
    return made


def _deployments(store: Store, n: int) -> list[str]:
    """`n` deployments of counter-app 1.0.0 on dev-cluster, with 1.1.0 there to upgrade to."""
    _versions(store, 2)
    names = [f"shop-{i:02d}" for i in range(1, n + 1)]
    for name in names:
        store.upsert_deployment(
            "dev-cluster", name, profile="counter-app", version="1.0.0", channel=CHANNEL, actor=USER
        )
    return names


def _audit(store: Store, n: int) -> list[str]:
    """`n` audit rows; the log lists them newest first."""
    targets = [f"app-{i:02d}" for i in range(1, n + 1)]
    for target in targets:
        store.audit(USER, CHANNEL, "use", target, "ok")
    return targets[::-1]


@dataclass(frozen=True)
class Listed:
    command: str
    title: str  # the header before ` — `
    total: bool  # the header says how many there are in all
    columns: list[str]
    key: int  # the column that tells the rows apart
    seed: Callable[[Store, int], list[str]]


LISTS = {
    "deployments": Listed(
        "deployments",
        "Deployments",
        True,
        ["Deployment", "Cluster", "Profile@version", "Status", "Update"],
        0,
        _deployments,
    ),
    "versions": Listed(
        "versions counter-app",
        "counter-app versions",
        True,
        ["Version", "Kind", "By", "At", "From"],
        0,
        _versions,
    ),
    "audit": Listed(
        "audit 200", "Audit log", False, ["At", "Who", "Action", "Target", "Result", "Detail"], 3, _audit
    ),
}


def _keys(call: Call, listed: Listed) -> list[str]:
    rows = _table(call)
    assert rows[0] == listed.columns  # the header row
    return [row[listed.key] for row in rows[1:]]


def _expected_heading(listed: Listed, total: int, rows: str) -> str:
    return f"{listed.title} — {total}, {rows}" if listed.total else f"{listed.title} — {rows}"


# -- paging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", list(LISTS))
def test_41_rows_page_through_with_next_and_previous_in_place(
    slack: SlackDriver, store: Store, which: str
) -> None:
    listed = LISTS[which]
    keys = listed.seed(store, 41)

    first = _ask(slack, listed.command, listed.title)
    assert first.params["response_type"] == "ephemeral"
    assert _heading(first) == _expected_heading(listed, 41, "rows 1–20")
    assert _keys(first, listed) == keys[:20]
    assert set(_buttons(first)) == {"Next"}

    _, second = _press(slack, _buttons(first)["Next"])
    assert second.params["replace_original"] is True  # the same message, now showing rows 21–40
    assert _heading(second) == _expected_heading(listed, 41, "rows 21–40")
    assert _keys(second, listed) == keys[20:40]
    assert set(_buttons(second)) == {"Previous", "Next"}

    _, last = _press(slack, _buttons(second)["Next"])
    assert _heading(last) == _expected_heading(listed, 41, "rows 41–41")
    assert _keys(last, listed) == keys[40:]
    assert set(_buttons(last)) == {"Previous"}

    _, back = _press(slack, _buttons(last)["Previous"])
    assert _keys(back, listed) == keys[20:40]
    assert set(_buttons(back)) == {"Previous", "Next"}


@pytest.mark.parametrize("which", list(LISTS))
def test_exactly_20_rows_fit_on_one_page_without_buttons(
    slack: SlackDriver, store: Store, which: str
) -> None:
    listed = LISTS[which]
    keys = listed.seed(store, 20)
    call = _ask(slack, listed.command, listed.title)
    assert _keys(call, listed) == keys
    assert _buttons(call) == {}
    assert "rows" not in _heading(call)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("deployments", "Nothing is deployed yet"),
        ("audit", "The audit log is empty for this filter"),
        ("audit --cluster prod", "The audit log is empty for this filter"),
    ],
)
def test_an_empty_list_says_so_without_a_table(slack: SlackDriver, command: str, words: str) -> None:
    call = _ask(slack, command, words)
    assert [b["type"] for b in call.params["blocks"]] == ["section"]


def test_who_is_a_mention_and_the_bot_itself_is_text(slack: SlackDriver, store: Store) -> None:
    _versions(store, 1)
    store.audit("appprofile", CHANNEL, "expire", "prod/shop", "expired")
    versions = _table(_ask(slack, "versions counter-app", "counter-app"))
    assert versions[1][:2] == ["1.0.0", "version"] and versions[1][2] == f"<@{USER}>"
    audit = _table(_ask(slack, "audit", "Audit log"))
    assert [row[1] for row in audit[1:]] == ["appprofile", f"<@{USER}>"]  # newest first


def test_audit_pages_keep_the_cluster_filter_and_stop_at_n(slack: SlackDriver, store: Store) -> None:
    for i in range(1, 31):
        store.audit(USER, CHANNEL, "deploy", f"prod/shop-{i:02d}", "ok")
        store.audit(USER, CHANNEL, "deploy", f"dev-cluster/shop-{i:02d}", "ok")
    prod = [f"prod/shop-{i:02d}" for i in range(30, 0, -1)]  # newest first

    first = _ask(slack, "audit 25 --cluster prod", "Audit log")
    assert [row[3] for row in _table(first)[1:]] == prod[:20]
    assert "cluster `prod`" in json.dumps(first.params["blocks"])
    value = json.loads(_buttons(first)["Next"]["value"])
    assert value == {"list": "audit", "offset": 20, "limit": 25, "cluster": "prod"}

    _, second = _press(slack, _buttons(first)["Next"])
    # Only 5 more: 25 asked for, although the log holds 30 rows for prod.
    assert [row[3] for row in _table(second)[1:]] == prod[20:25]
    assert _heading(second) == "Audit log — rows 21–25"
    assert set(_buttons(second)) == {"Previous"}


def test_audit_pages_of_50_are_20_20_and_10(slack: SlackDriver, store: Store) -> None:
    keys = _audit(store, 60)
    call = _ask(slack, "audit 50", "Audit log")
    seen = [row[3] for row in _table(call)[1:]]
    while "Next" in _buttons(call):
        _, call = _press(slack, _buttons(call)["Next"])
        seen += [row[3] for row in _table(call)[1:]]
    assert seen == keys[:50]
    assert _heading(call) == "Audit log — rows 41–50"


def test_audit_rows_show_secrets_masked(slack: SlackDriver, store: Store) -> None:
    store.audit(
        USER,
        CHANNEL,
        "deploy",
        "counter-app@1.0.0 → prod/shop",
        "failed",
        "tier postgres-db: password hunter2hunter2 was refused",
        secrets=["hunter2hunter2"],
    )
    call = _ask(slack, "audit", "Audit log")
    assert "hunter2hunter2" not in json.dumps(call.params)
    assert _table(call)[1][5] == f"tier postgres-db: password {MASK} was refused"


def test_an_audit_detail_is_cut_in_its_cell(slack: SlackDriver, store: Store) -> None:
    store.audit(USER, CHANNEL, "deploy", "prod/shop", "failed", "x" * 1000)
    detail = _table(_ask(slack, "audit", "Audit log"))[1][5]
    assert len(detail) == tables.DETAIL_MAX and detail.endswith("…")


# -- forged and stale buttons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"list": "deployments", "offset": -5},
        {"list": "users", "offset": 0},
        {"list": "deployments", "offset": 0, "admin": True},
        {"list": "deployments", "offset": 7},  # not where a page starts
        {"list": "deployments", "offset": 200_000},
        {"list": "deployments", "offset": "20"},
        {"list": "versions", "offset": 0},  # which profile?
        {"list": "versions", "offset": 0, "name": "../etc"},
        {"list": "audit", "offset": 40, "limit": 40},  # past the N asked for
        {"list": "audit", "offset": 0, "limit": 5000},
        {"list": "deployments", "offset": 0, "cluster": "prod"},  # not that list's filter
    ],
)
def test_a_forged_page_value_is_out_of_date_and_does_nothing_else(
    slack: SlackDriver, fake: FakeSlack, store: Store, value: dict[str, Any]
) -> None:
    _deployments(store, 30)
    mark = len(fake.calls)
    reply = slack.click({"type": "button", "action_id": tables.NEXT_ACTION, "value": json.dumps(value)})
    call = _valid(slack.answer(reply, "this button is out of date"))
    assert call.params["replace_original"] is False  # the list stays as it was
    assert "table" not in [b["type"] for b in call.params["blocks"]]
    assert fake.calls[mark:] == [call]


def test_a_page_past_the_end_shows_the_last_page(slack: SlackDriver, store: Store) -> None:
    """Deployments gone since the button was drawn: the page it named no longer exists."""
    names = _deployments(store, 25)
    stale = {"list": "deployments", "offset": 60}
    _, call = _press(slack, {"action_id": tables.NEXT_ACTION, "value": json.dumps(stale)})
    assert _keys(call, LISTS["deployments"]) == names[20:]
    assert set(_buttons(call)) == {"Previous"}


# -- without a table block -------------------------------------------------------------------------


def test_the_section_fallback_escapes_and_validates() -> None:
    """What an slack_sdk without `TableBlock` gets: mrkdwn sections, user text escaped."""
    columns = [tables.Column("Target"), tables.Column("Who")]
    rows: list[list[tables.Cell]] = [["a<b>&c", tables.Mention(USER)], ["", tables.Mention("cli")]]
    out = tables.section_layout(columns, rows)
    assert block_errors(out, 50) == []
    assert out[1]["text"]["text"] == f"a&lt;b&gt;&amp;c · <@{USER}>"
    assert out[2]["text"]["text"] == f"{tables.EMPTY} · cli"
    assert tables.choose_layout() is tables.table_layout  # the installed slack_sdk knows the table
