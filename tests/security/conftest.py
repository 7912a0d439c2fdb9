"""Fixtures for the secret-leak suite: the existing rigs, reused unchanged.

- Slack: the real Bolt app over HTTP, a fake Slack Web API on loopback (tests/slack/conftest.py).
- Executor: the real executor over a scripted cluster (tests/executor/conftest.py).
- World: Bolt + SlackReporter + executor + scripted cluster, as main.build_bot wires them
  (tests/approvals/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.approvals.conftest import make_world  # noqa: F401  (fixture)
from tests.executor.conftest import Rig
from tests.slack.conftest import bolt, executor, fake, http_url, service, slack, store  # noqa: F401


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)
