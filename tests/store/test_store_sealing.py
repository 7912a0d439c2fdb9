"""User-given secret values at rest: sealed with APPPROFILE_SECRET_KEY (Fernet), never in clear
text in the database file; without a key they are refused, and a database that already holds
some in clear refuses to open until a key is set (then it is sealed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot import catalog_files, main
from bot.core import model, policy
from bot.core.errors import UserError
from bot.core.records import Actor
from bot.service import Service
from bot.store import sealing
from bot.store.db import Store
from tests import secret_key

PASSWORD = "Sup3r-Secret-Typed-By-A-Person"
PROFILE = f"""\
name: vault-app
tiers:
  - name: db
    type: postgresql
    properties: {{username: pguser, databaseName: app, password: {PASSWORD}}}
"""


def _bytes(path: Path) -> bytes:
    # The database, its WAL and shared-memory index: every file SQLite wrote.
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _service(store: Store) -> Service:
    return Service(store=store, catalog=catalog_files.load(), config=policy.Config(), charts=lambda *a: "")


def test_with_a_key_nothing_user_given_is_clear_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    store = Store(path, sealer=secret_key.sealer())
    rec = _service(store).create(Actor("U1", "C1"), PROFILE)
    assert PASSWORD in store.get_version("vault-app").yaml  # readable through the store
    run = store.create_run(
        cluster="dev",
        deployment="vault-app",
        profile="vault-app",
        version=rec.version,
        kind="deploy",
        requested_by="U1",
        channel="C1",
        fingerprint="f" * 64,
        plan={"tiers": [{"objects": [{"kind": "Secret", "stringData": {"password": PASSWORD}}]}]},
    )
    assert store.get_run(run.id).plan["tiers"][0]["objects"][0]["stringData"]["password"] == PASSWORD
    store.close()
    assert PASSWORD.encode() not in _bytes(path)
    raw = sqlite3.connect(path).execute("SELECT yaml FROM versions").fetchone()[0]
    assert raw.startswith(sealing.PREFIX)


def test_without_a_key_a_given_secret_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    store = Store(tmp_path / "app.db")
    with pytest.raises(UserError) as err:
        _service(store).create(Actor("U1", "C1"), PROFILE)
    assert "APPPROFILE_SECRET_KEY" in err.value.message and err.value.hint and "generated" in err.value.hint
    assert PASSWORD not in str(err.value)
    assert store.list_profiles() == []
    # Without a given secret (generated at deploy), no key is needed.
    _service(store).create(Actor("U1", "C1"), PROFILE.replace(f", password: {PASSWORD}", ""))


def test_a_database_with_clear_secrets_opens_only_with_a_key_and_is_then_sealed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Store(path)  # as a bot before sealing would have written it
    old.create_version(model.from_yaml(PROFILE), actor="U1", channel="C1", kind="create")
    old.close()
    settings = main.Settings.from_env({"APPPROFILE_DB": str(path)})
    with pytest.raises(UserError) as err:
        main.open_store(settings)
    assert "vault-app@1.0.0" in err.value.message and "APPPROFILE_SECRET_KEY" in err.value.message
    sealed = main.open_store(
        main.Settings.from_env({"APPPROFILE_DB": str(path), "APPPROFILE_SECRET_KEY": secret_key.KEY})
    )
    assert PASSWORD in sealed.get_version("vault-app").yaml
    sealed.close()
    assert PASSWORD.encode() not in _bytes(path)


def test_a_wrong_or_malformed_key_is_an_operator_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a Fernet key"):
        main.open_store(
            main.Settings.from_env(
                {"APPPROFILE_DB": str(tmp_path / "a.db"), "APPPROFILE_SECRET_KEY": "short"}
            )
        )
    path = tmp_path / "b.db"
    store = Store(path, sealer=secret_key.sealer())
    _service(store).create(Actor("U1", "C1"), PROFILE)
    store.close()
    other = sealing.Sealer(sealing.Fernet.generate_key().decode())
    with pytest.raises(sealing.SealingError, match="does not open"):
        Store(path, sealer=other).get_version("vault-app")
