"""What every test starts from: an environment without the developer's bot settings, and the
process-wide logging set-up put back after each test (the CLI's entry point replaces it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from tests.postgres import postgres_server  # noqa: F401 - the session's PostgreSQL, for any test
from tests.rig import bolt, bot, fake, http_url, service, slack, slack_http, store  # noqa: F401 - the shared rig's fixtures

# Settings the bot or its libraries read; a developer's shell must not change what a test sees.
_SCRUBBED_PREFIXES = ("SLACK_", "APPPROFILE_", "KUBE", "HELM_")
_SCRUBBED = {
    "PORT",
    "HOST",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
}
# Kept on purpose: where helm is (set by `make pytest`) and CI's demand that nothing skips.
_KEPT = {"HELM_BIN", "APPPROFILE_REQUIRE_SHARED"}


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key in _KEPT:
            continue
        if key in _SCRUBBED or key.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(key)
    # Loopback only, and never through a proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
