"""The README says what is true: its configuration example is one the bot accepts, and its
layout of the code is the tree as it is."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core import policy

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_config_example_is_valid() -> None:
    block = re.search(r"```yaml\n((?:#.*\n)*clusters:.*?)```", README, re.S)
    assert block is not None
    cfg = policy.load(block.group(1))
    assert set(cfg.clusters) == {"dev-cluster", "prod", "in-cluster"}
    assert set(cfg.access) == set(policy.ACTIONS)


def test_how_it_is_built_names_the_tree_as_it_is() -> None:
    """Every path the README's layout block names exists, and every package of bot/ is named."""
    block = README.split("## How it is built", 1)[1].split("```", 2)[1]
    named = {line.split()[0].rstrip(",") for line in block.splitlines() if line[:1].strip()}
    for path in named:
        assert (ROOT / path).exists(), path
    packages = {f"bot/{p.name}/" for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists()}
    assert packages <= named, packages - named
