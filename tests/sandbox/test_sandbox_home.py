"""The channel page's Home tab against the real bot: a signed `app_home_opened`, the published
view in the page's state, and a click on the Home answered in the person's messages."""

from __future__ import annotations

import json
from typing import Any

from sandbox.run import Sandbox
from tests.sandbox.conftest import eventually

ALICE, BOB = "U0ALICE", "U0BOB"


def _home_with(sandbox: Sandbox, user: str, text: str, *, absent: str | None = None) -> dict[str, Any] | None:
    assert sandbox.channel is not None
    home = sandbox.channel.state(user)["home"]
    body = json.dumps(home, ensure_ascii=False) if home else ""
    return home if text in body and (absent is None or absent not in body) else None


def _button(home: dict[str, Any], action_id: str) -> tuple[str, str]:
    for block in home["blocks"]:
        for el in [*block.get("elements", []), block.get("accessory") or {}]:
            if el.get("action_id") == action_id:
                return str(block.get("block_id", "")), action_id
    raise AssertionError(f"no {action_id} on the Home")


def test_the_home_tab_shows_deploys_and_approves_from_there(sandbox: Sandbox) -> None:
    ch, fake = sandbox.channel, sandbox.fake
    assert ch is not None and fake is not None
    assert ch.open_home(ALICE).ok
    eventually(lambda: _home_with(sandbox, ALICE, "Nothing of yours is deployed"), "alice's empty Home")

    assert ch.command(ALICE, "deploy counter-app to dev-cluster").ok
    eventually(lambda: _home_with(sandbox, ALICE, "counter-app 1.0.0 · ready"), "the deploy on alice's Home")

    assert ch.command(ALICE, "deploy counter-app to prod").ok
    assert ch.open_home(BOB).ok
    bob = eventually(
        lambda: _home_with(sandbox, BOB, "Waiting on your approval (1)"), "the request on bob's Home"
    )
    assert _home_with(sandbox, ALICE, "Waiting on your approval") is None  # not her own

    block_id, action_id = _button(bob, "approval_approve")
    assert ch.click_home(BOB, block_id, action_id).ok
    dm = eventually(
        lambda: [m for m in ch.state(BOB)["dm"] if "Approved" in json.dumps(m)],
        "the answer in bob's messages",
    )
    assert dm[0]["user"] == fake.bot_user_id
    eventually(
        lambda: _home_with(sandbox, BOB, "App Profiles", absent="Waiting on your approval"),
        "the request gone from bob's Home",
    )
    eventually(lambda: _home_with(sandbox, ALICE, "counter-app 1.0.0 · ready · in"), "alice's Home")
    assert fake.rejected() == []
