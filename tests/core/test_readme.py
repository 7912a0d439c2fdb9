"""The README's configuration example is a configuration the bot accepts."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core import policy

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_config_example_is_valid() -> None:
    block = re.search(r"```yaml\n((?:#.*\n)*clusters:.*?)```", README, re.S)
    assert block is not None
    cfg = policy.load(block.group(1))
    assert set(cfg.clusters) == {"dev-cluster", "prod", "in-cluster"}
    assert set(cfg.access) == set(policy.ACTIONS)
