"""The Home tab in a real browser: alice's deployment and the request waiting on her appear on her
Home after the deploys; she approves from there and the answer lands in her messages. The
screenshot goes to artifacts/ (the README's picture is taken by scripts/screenshots.py)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sandbox_browser import DEPLOY_WAIT, message, send

SCREENSHOT = ARTIFACTS / "home-tab.png"


@pytest.mark.browser
def test_the_home_tab_shows_deployments_and_approves(page: Any) -> None:
    page.get_by_test_id("user-switch").select_option("U0ALICE")
    send(page, "/appprofile deploy counter-app to dev-cluster")
    expect(message(page, "Deploy counter-app 1.0.0 → dev-cluster")).to_contain_text(
        "Succeeded", timeout=DEPLOY_WAIT
    )

    # bob asks for prod, which needs someone else's approval: alice's.
    page.get_by_test_id("user-switch").select_option("U0BOB")
    send(page, "/appprofile deploy counter-app to prod as counter-prod")
    expect(message(page, "Approval: deploy to prod")).to_contain_text("Waiting for approval: 0 of 1")
    page.get_by_test_id("user-switch").select_option("U0ALICE")

    page.get_by_test_id("tab-home").click()
    home = page.get_by_test_id("home-view")
    expect(page.get_by_test_id("timeline")).to_be_hidden()
    expect(home).to_contain_text("Waiting on your approval (1)")
    expect(home).to_contain_text("Deploy counter-app@1.0.0 → prod as counter-prod")
    expect(home).to_contain_text("Cluster dev-cluster")
    expect(home).to_contain_text("counter-app · counter-app 1.0.0 · ready · in #sandbox")
    expect(home).to_contain_text("Your last runs")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 0

    home.get_by_role("button", name="Approve").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_contain_text("Approve this deploy?")
    confirm.get_by_role("button", name="Yes").click()
    expect(page.get_by_test_id("home-dm")).to_contain_text("Approved; the deploy is starting.")
    expect(home).not_to_contain_text("Waiting on your approval", timeout=DEPLOY_WAIT)

    # Back in the channel, the card says who approved it.
    page.get_by_test_id("tab-channel").click()
    expect(message(page, "Approval: deploy to prod")).to_contain_text("Approved", timeout=DEPLOY_WAIT)
