"""The offline CLI. `render` prints what the person's own file holds, user-given secrets included
(acceptable: their file, their terminal, nothing shared); it never has a generated password to print."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import cli
from bot.core import macros
from tests.security.secrets_data import AWS_SECRET, PROFILE


def test_render_prints_the_users_own_secret_and_only_placeholders_for_generated_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPPROFILE_DB", str(tmp_path / "cli.db"))
    f = tmp_path / "p.yaml"
    # The db password left out: it would be generated at deploy time.
    f.write_text(PROFILE.replace(", password: Pg-Pa55word-Zx81q", ""))
    assert cli.main_cli(["render", str(f), "--name", "shop"]) == 0
    out = capsys.readouterr()
    assert AWS_SECRET in out.out  # the user's own value, in their own terminal: accepted
    docs = list(yaml.safe_load_all(out.out))
    # The generated Secret a deploy applies is printed too, its values as holes, never a value.
    kept = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].endswith("-generated")]
    assert kept and kept[0]["stringData"] == {"password": macros.secret_hole("password")}
    assert AWS_SECRET not in out.err
