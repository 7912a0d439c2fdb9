"""Approvers see what they approve: the card counts objects by kind per tier, names what is
sensitive, and "View plan" opens every change in a modal within Block Kit's limits (50 tiers too)."""

from __future__ import annotations

import json
from typing import Any

from bot.core import plan
from bot.slack import plan_view
from tests.approvals.conftest import APPROVER_A, EXAMPLE, PROD_CHANNEL, REQUESTER, World, text_of


def _view_plan_value(card: dict[str, Any]) -> str:
    for block in card.get("blocks") or []:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == plan_view.VIEW_PLAN_ACTION:
            return str(accessory["value"])
    raise AssertionError(f"no View plan button on {card}")


def test_the_card_names_what_the_deploy_creates_and_view_plan_lists_it(make_world: Any) -> None:
    world: World = make_world()
    _service, driver = world.boot()
    created = driver.command(f"create ```{EXAMPLE}```", user=REQUESTER, channel=PROD_CHANNEL)
    driver.posted(created, "counter-app@1.0.0")
    sent = driver.command("deploy counter-app to prod", user=REQUESTER, channel=PROD_CHANNEL)
    card = driver.posted(sent, "Approval: deploy to prod").params
    shown = text_of_params(card)
    # Counted by kind per tier, and the sensitive objects by name: not "8 to create" alone.
    assert "*postgres-db*: 2 Secret, 2 Service, 1 StatefulSet" in shown
    assert "*Secrets* (3)" in shown and "counter-app-postgres-db-credentials" in shown
    assert "counter-app-postgres-db-generated" in shown  # the generated password's keeper, applied too
    assert "counter-app-api-env" in shown  # the api's DB_PASSWORD, by reference
    assert "*Images*" in shown and "ghcr.io/spectrocloud/hello-universe-api:1.0.8" in shown
    assert "*New namespaces* (3)" in shown
    clicked = driver.click(
        {
            "type": "button",
            "action_id": plan_view.VIEW_PLAN_ACTION,
            "block_id": "b",
            "value": _view_plan_value(card),
        },
        user=APPROVER_A,
        channel=PROD_CHANNEL,
    )
    modal = driver.opened(clicked)
    listed = "\n".join(str((b.get("text") or {}).get("text", "")) for b in modal["blocks"])
    assert (
        "create · postgres-db · StatefulSet · counter-app-postgres-db-ns · counter-app-postgres-db" in listed
    )
    assert "create · ui · Service" in listed


def text_of_params(params: dict[str, Any]) -> str:
    return json.dumps(params, ensure_ascii=False)


def test_view_plan_of_50_tiers_stays_within_block_kit_limits(make_world: Any) -> None:
    world: World = make_world()
    objects = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i:03d}-{j}", "namespace": f"shop-t{i}-ns"},
        }
        for i in range(50)
        for j in range(12)
    ]
    tiers = [
        plan.TierPlan(
            name=f"t{i}", type="manifest", namespace=f"shop-t{i}-ns", objects=objects[i * 12 : (i + 1) * 12]
        )
        for i in range(50)
    ]
    changes = [
        plan.Change(action="create", tier=f"t{i // 12}", ref=plan.ObjectRef.of(o))
        for i, o in enumerate(objects)
    ]
    big = plan.Plan(
        profile="shop", version="1.0.0", cluster="prod", deployment="shop", tiers=tiers, changes=changes
    )
    view = plan_view.plan_modal("Plan of run #1", big.model_dump(mode="json"))
    assert len(view["blocks"]) <= plan_view.MODAL_MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in view["blocks"] if b["type"] == "section")
    listed = json.dumps(view, ensure_ascii=False)
    assert "cm-000-0" in listed and "cm-049-11" in listed  # 600 changes, every one listed
    # The fake Slack validates it as views.open would.
    opened = world.fake.handle(
        "views.open",
        {"authorization": f"Bearer {world.fake.bot_token}"},
        {"trigger_id": "1.2.3", "view": view},
    )
    assert opened[1].get("ok"), opened
    assert text_of  # the card helpers are shared with the approval tests
