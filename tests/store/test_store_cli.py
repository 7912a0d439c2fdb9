"""`appprofile db migrate` and `appprofile db copy --to postgresql://…`, as the CLI runs them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.cli import main_cli
from bot.core import model
from bot.store import schema
from bot.store.db import Store
from tests import secret_key
from tests.store.conftest import Backend

LATEST = len(schema.MIGRATIONS)


def _use(monkeypatch: pytest.MonkeyPatch, backend: Backend) -> None:
    if backend.name == "sqlite":
        monkeypatch.setenv("APPPROFILE_DB", backend.location)
    else:
        monkeypatch.setenv("APPPROFILE_DATABASE_URL", backend.location)


def test_db_migrate_says_from_which_version_to_which(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, backend)
    assert main_cli(["db", "migrate"]) == 0
    assert (
        capsys.readouterr().out
        == f"{backend.open(migrate=False).path}: schema version 0 -> {LATEST} (migrated)\n"
    )
    assert main_cli(["db", "migrate"]) == 0
    assert capsys.readouterr().out.endswith(f"schema version {LATEST} -> {LATEST} (up to date)\n")
    assert backend.versions_applied() == list(range(1, LATEST + 1))


def test_db_copy_moves_the_sqlite_install_and_refuses_a_second_time(
    tmp_path: Path, postgresql: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.db"
    source = Store(path, sealer=secret_key.sealer())
    profile = model.from_data({"name": "counter-app", "tiers": [{"name": "api", "type": "container"}]})
    source.create_version(profile, actor="U1", channel="C1", kind="create")
    source.set_current("C1", "counter-app")
    source.close()
    monkeypatch.setenv("APPPROFILE_DB", str(path))

    assert main_cli(["db", "copy", "--to", postgresql.location]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:8] == [
        "versions                  1 rows",
        "channel_profiles          1 rows",
        "deployments               0 rows",
        "runs                      0 rows",
        "approvals                 0 rows",
        "audit                     1 rows",
        "applied_fields            0 rows",
        "home_views                0 rows",
    ]
    assert out[8].startswith(f"copied 3 rows from {path} to {postgresql.location}")
    assert "APPPROFILE_DATABASE_URL" in out[9]
    copied = postgresql.open(sealer=secret_key.sealer())
    assert copied.get_version("counter-app").yaml == source.get_version("counter-app").yaml
    assert copied.get_current("C1") == "counter-app"

    assert main_cli(["db", "copy", "--to", postgresql.location]) == 2
    err = capsys.readouterr().err
    assert "already holds rows (1 in versions, 1 in channel_profiles, 1 in audit); nothing was copied" in err
    assert "hint: copy into an empty database" in err


def test_db_copy_wants_a_postgres_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APPPROFILE_DB", str(tmp_path / "app.db"))
    assert main_cli(["db", "copy", "--to", str(tmp_path / "other.db")]) == 2
    err = capsys.readouterr().err
    assert "--to takes a PostgreSQL URL" in err
    assert "hint: write it as postgresql://" in err


def test_db_copy_to_an_unreachable_server_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("APPPROFILE_DB", str(tmp_path / "app.db"))
    assert main_cli(["db", "copy", "--to", f"postgresql://bot:pw-123456@127.0.0.1:{port}/x"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot reach the PostgreSQL database postgresql://bot:••••••@127.0.0.1" in err
    assert "hint: check APPPROFILE_DATABASE_URL" in err
    assert "pw-123456" not in err
