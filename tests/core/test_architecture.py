"""DESIGN §7: only the entry points read the environment (import-linter cannot see attribute use)."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
ENTRY_POINTS = {BOT / "main.py", BOT / "cli.py"}


def reads_environment(tree: ast.AST) -> list[int]:
    names = ("environ", "getenv", "environb")
    lines = []
    for node in ast.walk(tree):
        attribute = (
            isinstance(node, ast.Attribute)
            and node.attr in names
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )
        imported = (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in names for a in node.names)
        )
        if attribute or imported:
            lines.append(node.lineno)
    return lines


def test_only_main_and_cli_read_the_environment() -> None:
    offenders = {
        str(path.relative_to(BOT.parent)): lines
        for path in BOT.rglob("*.py")
        if path not in ENTRY_POINTS and (lines := reads_environment(ast.parse(path.read_text())))
    }
    assert offenders == {}


def test_the_check_sees_a_read() -> None:
    assert reads_environment(ast.parse("import os\nx = os.environ['A']\n")) == [2]
    assert reads_environment(ast.parse("from os import getenv\n")) == [1]
