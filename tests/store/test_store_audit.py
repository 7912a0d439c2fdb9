"""The audit log: a row for every change, filters, and secrets that never reach the file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.core import model
from bot.core.model import Profile
from tests.store.conftest import Backend


def make_profile(name: str = "counter-app", version: str = "1.0.0") -> Profile:
    return model.from_data(
        {"name": name, "version": version, "tiers": [{"name": "api", "type": "container", "properties": {}}]}
    )


def test_every_profile_change_leaves_a_row(backend: Backend) -> None:
    store = backend.open()
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.1.0"), actor="U1", channel="C1", kind="version",
                         source="counter-app@1.0.0")  # fmt: skip
    store.create_version(
        make_profile("copy"), actor="U2", channel="C2", kind="clone", source="counter-app@1.1.0"
    )
    store.create_version(make_profile("imported"), actor="U3", channel="C3", kind="import")
    store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")
    store.delete_profile("copy", actor="U2", channel="C2")
    rows = [(e.actor, e.channel, e.action, e.target, e.result, e.detail) for e in store.list_audit()]
    assert rows == [
        ("U2", "C2", "delete", "copy", "ok", "versions 1.0.0"),
        ("U1", "C1", "delete", "counter-app@1.0.0", "ok", ""),
        ("U3", "C3", "import", "imported@1.0.0", "ok", ""),
        ("U2", "C2", "clone", "copy@1.0.0", "ok", "from counter-app@1.1.0"),
        ("U1", "C1", "version", "counter-app@1.1.0", "ok", "from counter-app@1.0.0"),
        ("U1", "C1", "create", "counter-app@1.0.0", "ok", ""),
    ]


def test_a_refused_change_leaves_no_row(backend: Backend) -> None:
    store = backend.open()
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    with pytest.raises(Exception, match="already exists"):
        store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    assert len(store.list_audit()) == 1


def test_filters_limit_and_order(backend: Backend) -> None:
    clock = iter(float(1_700_000_000 + i) for i in range(100))
    store = backend.open(now=lambda: next(clock))
    store.audit("U1", "C1", "deploy", "prod/shop", "ok", profile="counter-app")
    store.audit("U2", "C1", "approve", "prod/shop", "ok")
    store.audit("U1", "C1", "deploy", "dev/shop", "failed", "tier api: ImagePullBackOff")
    store.audit("U1", "C1", "use", "counter-app", "ok")
    store.audit("U1", "C1", "create", "blog@2.0.0", "ok")
    store.audit("U3", "C1", "deploy", "blog@2.0.0 → dev/blog", "requested")
    assert [e.target for e in store.list_audit()] == [
        "blog@2.0.0 → dev/blog", "blog@2.0.0", "counter-app", "dev/shop", "prod/shop", "prod/shop",
    ]  # fmt: skip
    newest = store.list_audit(limit=1)[0]
    assert (newest.id, newest.at, newest.result) == (6, "2023-11-14T22:13:25Z", "requested")
    assert [(e.action, e.target) for e in store.list_audit(profile="counter-app")] == [
        ("use", "counter-app"), ("deploy", "prod/shop"),
    ]  # fmt: skip
    assert [e.actor for e in store.list_audit(cluster="prod")] == ["U2", "U1"]
    assert [e.action for e in store.list_audit(cluster="prod", profile="counter-app")] == ["deploy"]
    assert [e.detail for e in store.list_audit(cluster="dev")] == ["", "tier api: ImagePullBackOff"]
    # A deploy target names both the profile and the cluster.
    assert [e.action for e in store.list_audit(profile="blog")] == ["deploy", "create"]
    assert [e.target for e in store.list_audit(profile="blog", cluster="dev")] == ["blog@2.0.0 → dev/blog"]
    assert store.list_audit(profile="blog", cluster="prod") == []
    assert len(store.list_audit(limit=3)) == 3


def test_an_unknown_action_is_refused(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(ValidationError):
        store.audit("U1", "C1", "explode", "prod/shop", "ok")
    assert store.list_audit() == []


def test_secrets_never_land_in_the_database(backend: Backend) -> None:
    store = backend.open()
    password = "hunter2-Zq9!xP"
    token = "xoxb-123456-secret-token"
    store.audit(
        "U1",
        "C1",
        "deploy",
        f"prod/shop?pw={password}",
        "failed",
        f"helm said: password={password} and token {token}; again {password}",
        secrets=[password, token, ""],
    )
    entry = store.list_audit()[0]
    assert entry.detail == "helm said: password=•••••• and token ••••••; again ••••••"
    assert entry.target == "prod/shop?pw=••••••"

    def assert_no_secret_stored() -> None:
        raw = backend.stored_bytes()
        for secret in (password, token):
            assert secret.encode() not in raw, f"{secret!r} found in the {backend.name} files"

    if backend.name == "sqlite":
        assert Path(backend.location).with_name("app.db-wal").exists()
    assert_no_secret_stored()
    store.dispose()  # SQLite: the last close checkpoints the WAL into the main file
    assert "••••••".encode() in backend.stored_bytes()
    assert_no_secret_stored()
    dumped = "\n".join(str(row) for row in backend.raw("SELECT target, result, detail FROM audit"))
    assert "••••••" in dumped
    assert password not in dumped
    assert token not in dumped
    if backend.name == "sqlite":
        with contextlib.closing(sqlite3.connect(backend.location)) as conn:
            assert password not in "\n".join(conn.iterdump())


def test_a_secret_inside_a_longer_secret_is_masked_whole(backend: Backend) -> None:
    store = backend.open()
    store.audit("U1", "C1", "deploy", "prod/shop", "ok", "key=abcdef", secrets=["abc", "abcdef"])
    assert store.list_audit()[0].detail == "key=••••••"
