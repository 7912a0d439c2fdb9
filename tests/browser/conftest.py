"""A whole sandbox (fake Slack, two simulated clusters, the bot as a subprocess, the channel page)
and Debian's Chromium driven by Playwright. `make test` installs /usr/bin/chromium; without it
these tests fail and say so (they are never skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.chromium import CHROMIUM, CHROMIUM_ARGS
from sandbox.run import Sandbox

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    db = tmp_path_factory.mktemp("sandbox") / "sandbox.db"
    sb = Sandbox(db=str(db)).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, sandbox: Sandbox) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(20_000)
    p.goto(sandbox.url)
    try:
        yield p
    finally:
        context.close()
