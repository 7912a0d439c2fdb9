"""User-given secret values at rest: sealed with APPPROFILE_SECRET_KEY (Fernet), never in clear
text in the database file; without a key they are refused, and a database that already holds
some in clear refuses to open until a key is set (then it is sealed)."""

from __future__ import annotations

import pytest

from bot import catalog_files, compose
from bot.clock import SystemClock
from bot.core import model, policy
from bot.core.errors import OperatorError, UserError
from bot.core.records import Actor
from bot.settings import Settings
from bot.store import sealing
from bot.store.db import Store
from bot.usecases.service import Service
from tests import secret_key
from tests.store.conftest import Backend

PASSWORD = "Sup3r-Secret-Typed-By-A-Person"
PROFILE = f"""\
name: vault-app
tiers:
  - name: db
    type: postgresql
    properties: {{username: pguser, databaseName: app, password: {PASSWORD}}}
"""


def _service(store: Store) -> Service:
    return Service(
        store=store,
        catalog=catalog_files.load(),
        config=policy.Config(),
        charts=lambda *a: "",
        clock=SystemClock(),
    )


def _open(backend: Backend, **env: str) -> Store:
    """The store as the bot opens it at start (`compose.open_store`), configured as by its env."""
    where = "APPPROFILE_DB" if backend.name == "sqlite" else "APPPROFILE_DATABASE_URL"
    settings = Settings.from_env({where: backend.location, **env})
    return compose.open_store(settings.store, catalog_files.load(), SystemClock())


def test_with_a_key_nothing_user_given_is_clear_on_disk(backend: Backend) -> None:
    store = backend.open(sealer=secret_key.sealer())
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
    store.dispose()
    assert PASSWORD.encode() not in backend.stored_bytes()
    [(raw_yaml, raw_plan)] = backend.raw("SELECT yaml, plan FROM versions, runs")
    assert raw_yaml.startswith(sealing.PREFIX)
    assert PASSWORD not in raw_plan and sealing.PREFIX in raw_plan


def test_without_a_key_a_given_secret_is_refused_and_nothing_is_stored(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(UserError) as err:
        _service(store).create(Actor("U1", "C1"), PROFILE)
    assert "APPPROFILE_SECRET_KEY" in err.value.message and err.value.hint and "generated" in err.value.hint
    assert PASSWORD not in str(err.value)
    assert store.list_profiles() == []
    # Without a given secret (generated at deploy), no key is needed.
    _service(store).create(Actor("U1", "C1"), PROFILE.replace(f", password: {PASSWORD}", ""))


def test_a_database_with_clear_secrets_opens_only_with_a_key_and_is_then_sealed(backend: Backend) -> None:
    old = backend.open()  # as a bot before sealing would have written it
    old.create_version(model.from_yaml(PROFILE), actor="U1", channel="C1", kind="create")
    old.dispose()
    with pytest.raises(OperatorError) as err:
        backend.stores.append(_open(backend))
    assert "vault-app@1.0.0" in err.value.message and "APPPROFILE_SECRET_KEY" in err.value.message
    sealed: Store = _open(backend, APPPROFILE_SECRET_KEY=secret_key.KEY)
    backend.stores.append(sealed)
    assert PASSWORD in sealed.get_version("vault-app").yaml
    sealed.dispose()
    # SQLite: secure_delete and a checkpoint; PostgreSQL: the tables rewritten into new files
    # (its write-ahead log still holds the clear row until the server recycles it).
    assert PASSWORD.encode() not in backend.stored_bytes()
    assert backend.raw("SELECT yaml FROM versions")[0][0].startswith(sealing.PREFIX)


def test_a_wrong_or_malformed_key_is_an_operator_error(backend: Backend) -> None:
    with pytest.raises(OperatorError, match="not a Fernet key"):
        _open(backend, APPPROFILE_SECRET_KEY="short")
    store = backend.open(sealer=secret_key.sealer())
    _service(store).create(Actor("U1", "C1"), PROFILE)
    store.dispose()
    other = sealing.Sealer(sealing.Fernet.generate_key().decode())
    with pytest.raises(sealing.SealingError, match="does not open"):
        backend.open(sealer=other).get_version("vault-app")
