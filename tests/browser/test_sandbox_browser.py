"""The issue's scenario in a real browser: create a profile through the form, deploy it to
dev-cluster and watch it become ready, deploy it to prod, approve as the other user, watch it run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS

EXAMPLE = (ARTIFACTS.parent / "profiles" / "examples" / "counter-app.yaml").read_text()
DEPLOY_WAIT = 90_000  # ms; the simulated rollouts take ~1.5 s per tier, the bound is generous


def send(page: Any, command: str) -> None:
    page.get_by_test_id("composer").fill(command)
    page.get_by_test_id("composer").press("Enter")


def message(page: Any, text: str) -> Any:
    return page.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=text)


@pytest.mark.browser
def test_create_deploy_approve_in_the_channel_page(page: Any) -> None:
    expect(page.get_by_test_id("banner")).to_have_text(
        "Simulated clusters: dev-cluster, prod — images tagged :nopull or :crash fail on purpose"
    )

    # Preloaded examples are there.
    send(page, "/appprofile list")
    listing = message(page, "App Profiles (3)")
    expect(listing).to_contain_text("counter-app")
    expect(listing).to_contain_text("Only visible to you")

    # The create form: a bad name is reported inline on its input, then fixed.
    send(page, "/appprofile create")
    modal = page.get_by_test_id("modal")
    expect(modal).to_be_visible()
    expect(modal.locator("h2")).to_have_text("Create App Profile")
    modal.locator("#in-name").fill("My Counter")
    modal.locator("#in-yaml").fill(EXAMPLE)
    modal.get_by_role("button", name="Create").click()
    error = modal.locator('[data-input="name"] [data-testid="input-error"]')
    expect(error).to_contain_text("is not a valid profile name")
    modal.locator("#in-name").fill("my-counter")
    modal.get_by_role("button", name="Create").click()
    expect(modal).to_be_hidden()
    expect(message(page, "my-counter")).not_to_have_count(0)

    # dev-cluster: no approval; the progress message is edited in place until it succeeds.
    send(page, "/appprofile deploy my-counter to dev-cluster")
    dev = message(page, "Deploy my-counter 1.0.0 → dev-cluster")
    expect(dev).to_contain_text("Succeeded", timeout=DEPLOY_WAIT)
    expect(dev).to_contain_text("ui ready")
    expect(dev).to_contain_text("192.0.2.10")
    expect(dev.get_by_test_id("edited")).to_be_visible()

    # prod: an approval card alice cannot approve herself, so bob does.
    send(page, "/appprofile deploy my-counter to prod")
    card = message(page, "Approval: deploy to prod")
    expect(card).to_contain_text("Waiting for approval: 0 of 1")
    page.get_by_test_id("user-switch").select_option("U0BOB")
    # bob does not see alice's ephemeral messages.
    expect(message(page, "App Profiles (3)")).to_have_count(0)
    card.get_by_role("button", name="Approve").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Approve this deploy?")
    confirm.get_by_role("button", name="Yes").click()
    expect(card).to_contain_text(re.compile("Approved — (deploying|deployed)"), timeout=DEPLOY_WAIT)
    prod = message(page, "Deploy my-counter 1.0.0 → prod")
    expect(prod).to_contain_text("Succeeded", timeout=DEPLOY_WAIT)
    expect(card).to_contain_text("Approved — deployed", timeout=DEPLOY_WAIT)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox.png"), full_page=True)
    assert (ARTIFACTS / "sandbox.png").stat().st_size > 0


@pytest.mark.browser
def test_mrkdwn_shows_slack_emoji_shortcodes_as_emoji(page: Any) -> None:
    html = page.evaluate(
        "mrkdwn(':warning: *up* :arrow_up: :rotating_light: :white_check_mark: :x: `:lock:` 10:30:00 :nope:')"
    )
    assert html.startswith("\u26a0\ufe0f <b>up</b> \u2b06\ufe0f \U0001f6a8 \u2705 \u274c")
    assert "<code>:lock:</code>" in html  # code stays as typed
    assert "10:30:00 :nope:" in html  # not shortcodes, or unknown ones, stay as typed
    for name, shown in [
        ("hourglass", "\u231b"),
        ("lock", "\U0001f512"),
        ("rocket", "\U0001f680"),
        ("tada", "\U0001f389"),
        ("eyes", "\U0001f440"),
    ]:
        assert page.evaluate(f"mrkdwn(':{name}:')") == shown
