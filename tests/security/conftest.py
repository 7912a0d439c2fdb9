"""Fixtures for the secret-leak suite: the shared rigs, reused unchanged.

- Slack: `slack` / `store` / `service` (tests/rig.py, exposed by tests/conftest.py): the real Bolt
  app, signed requests dispatched in-process, a fake Slack Web API on loopback.
- Executor: the real executor over a scripted cluster (tests/executor/conftest.py).
- World: Bolt + SlackReporter + executor + scripted cluster, as production wires them
  (tests/approvals/conftest.py).
All three are built by the one composition root, tests/rig.py `build()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.approvals.conftest import make_world  # noqa: F401  (fixture)
from tests.executor.conftest import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)
