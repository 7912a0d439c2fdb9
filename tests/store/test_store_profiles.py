"""Profile versions in the store: round trip, semver order, immutability, lineage, deletion."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import model
from bot.core.errors import Conflict, NotFound, UserError
from bot.core.model import Profile
from bot.store.db import Store
from tests.store.conftest import Backend


def make_profile(
    name: str = "counter-app",
    version: str = "1.0.0",
    *,
    db_type: str = "postgresql",
    description: str = "Counter demo",
    tags: list[str] | None = None,
) -> Profile:
    return model.from_data(
        {
            "name": name,
            "version": version,
            "description": description,
            "tags": tags if tags is not None else ["owner:platform"],
            "tiers": [
                {"name": "db", "type": db_type, "properties": {"databaseName": "counter"}},
                {"name": "api", "type": "container", "properties": {"image": "ghcr.io/example/api:1.0.0"}},
            ],
        }
    )


names = st.from_regex(model.NAME_RE, fullmatch=True)
versions = st.tuples(*[st.integers(0, 999_999)] * 3).map(lambda v: ".".join(map(str, v)))
tag_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=64
)


@settings(
    max_examples=60,
    deadline=None,
    # One database for every example, emptied in between.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(name=names, version=versions, tags=st.lists(tag_text, max_size=5), description=tag_text)
def test_a_version_round_trips(
    backend: Backend, name: str, version: str, tags: list[str], description: str
) -> None:
    profile = make_profile(name, version, tags=tags, description=description)
    store = backend.open(now=lambda: 1_700_000_000.0)
    backend.reset()
    created = store.create_version(profile, actor="U1", channel="C1", kind="import")
    store.dispose()
    # A fresh Store on the same database reads exactly what was written.
    again = backend.open()
    got = again.get_version(name, version)
    again.dispose()
    assert got == created
    assert got.profile() == profile
    assert got.yaml == model.to_yaml(profile)
    assert got.tags == tags
    assert got.description == description
    assert got.created_at == "2023-11-14T22:13:20Z"
    assert (got.created_by, got.kind, got.source) == ("U1", "import", None)


def test_latest_is_by_semver_not_by_text(store: Store) -> None:
    for v in ("1.9.0", "1.10.0", "1.2.0"):
        store.create_version(make_profile(version=v), actor="U1", channel="C1", kind="version")
    assert store.latest_version("counter-app") == "1.10.0"
    assert store.get_version("counter-app").version == "1.10.0"
    assert [r.version for r in store.list_versions("counter-app")] == ["1.2.0", "1.9.0", "1.10.0"]
    assert store.latest_version("nothing-here") is None


def test_version_shorthands_find_the_version(store: Store) -> None:
    store.create_version(make_profile(version="2.0.0"), actor="U1", channel="C1", kind="create")
    for text in ("v2", "2", "2.0", "2.0.0"):
        assert store.get_version("counter-app", text).version == "2.0.0"


def test_a_version_never_changes(store: Store) -> None:
    first = store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.0.3"), actor="U1", channel="C1", kind="version")
    edited = make_profile(description="something else")
    with pytest.raises(Conflict) as err:
        store.create_version(edited, actor="U2", channel="C1", kind="create")
    assert err.value.message == "counter-app 1.0.0 already exists"
    assert err.value.hint is not None
    assert err.value.hint.startswith("versions never change; create 1.0.4")
    assert store.get_version("counter-app", "1.0.0") == first


def test_a_tier_keeps_its_type_across_versions(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    with pytest.raises(UserError, match="tier db: type changes from postgresql to mysql"):
        store.create_version(
            make_profile(version="1.1.0", db_type="mysql"), actor="U1", channel="C1", kind="version"
        )
    assert [r.version for r in store.list_versions("counter-app")] == ["1.0.0"]
    # Another profile is free to use the name with another type.
    store.create_version(make_profile("other-app", db_type="mysql"), actor="U1", channel="C1", kind="create")


def test_clone_and_version_records_keep_kind_and_source(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(
        make_profile(version="1.1.0"), actor="U2", channel="C1", kind="version", source="counter-app@1.0.0"
    )
    store.create_version(
        make_profile("counter-copy"), actor="U3", channel="C2", kind="clone", source="counter-app@1.1.0"
    )
    v = store.get_version("counter-app", "1.1.0")
    c = store.get_version("counter-copy")
    assert (v.kind, v.source, v.created_by) == ("version", "counter-app@1.0.0", "U2")
    assert (c.kind, c.source, c.created_by) == ("clone", "counter-app@1.1.0", "U3")
    assert store.get_version("counter-app", "1.0.0").source is None


def test_unknown_names_suggest_what_exists(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.1.0"), actor="U1", channel="C1", kind="version")
    with pytest.raises(NotFound) as err:
        store.get_version("counter-ap")
    assert err.value.message == "there is no profile named counter-ap"
    assert "did you mean `counter-app`?" in (err.value.hint or "")
    with pytest.raises(NotFound) as err:
        store.get_version("counter-app", "1.2.0")
    assert err.value.message == "counter-app has no version 1.2.0"
    assert "1.0.0, 1.1.0" in (err.value.hint or "")


def test_list_profiles_summarises_each_profile(backend: Backend) -> None:
    clock = iter([1_700_000_000.0, 1_700_000_060.0, 1_700_000_120.0])
    store = backend.open(now=lambda: next(clock))
    store.create_version(
        make_profile(version="1.10.0", description="newest"), actor="U", channel="C", kind="create"
    )
    store.create_version(
        make_profile(version="1.9.0", description="older"), actor="U", channel="C", kind="version"
    )
    store.create_version(make_profile("alpha"), actor="U", channel="C", kind="create")
    summaries = store.list_profiles()
    assert [(s.name, s.latest_version, s.version_count) for s in summaries] == [
        ("alpha", "1.0.0", 1),
        ("counter-app", "1.10.0", 2),
    ]
    counter = summaries[1]
    assert counter.description == "newest"
    assert counter.updated_at == "2023-11-14T22:14:20Z"


def test_two_threads_creating_the_same_version_one_wins(backend: Backend) -> None:
    store = backend.open()
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(actor: str) -> None:
        barrier.wait()
        try:
            store.create_version(make_profile(), actor=actor, channel="C1", kind="create")
            result = "won"
        except Conflict as exc:
            result = f"conflict: {exc.message}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(f"U{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["conflict: counter-app 1.0.0 already exists", "won"]
    assert len(store.list_versions("counter-app")) == 1
    # Only the winner's create reached the audit log.
    assert [e.action for e in store.list_audit()] == ["create"]


def test_delete_is_refused_while_a_deployment_uses_the_version(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.1.0"), actor="U1", channel="C1", kind="version")
    shop = store.upsert_deployment(
        "prod", "shop", profile="counter-app", version="1.0.0", channel="C1", actor="U1"
    )
    with pytest.raises(Conflict) as err:
        store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")
    assert err.value.message == "counter-app 1.0.0 is in use by deployment prod/shop"
    with pytest.raises(Conflict, match="counter-app is in use by deployment prod/shop"):
        store.delete_profile("counter-app", actor="U1", channel="C1")
    # An unused version of the same profile can go.
    store.delete_version("counter-app", "1.1.0", actor="U1", channel="C1")
    assert [r.version for r in store.list_versions("counter-app")] == ["1.0.0"]

    store.update_deployment(shop.id, status="deleted")
    store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")
    with pytest.raises(NotFound):
        store.get_version("counter-app")


def test_delete_is_refused_while_the_version_still_runs_as_last_good(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.1.0"), actor="U1", channel="C1", kind="version")
    shop = store.upsert_deployment(
        "dev", "shop", profile="counter-app", version="1.1.0", channel="C1", actor="U1"
    )
    store.update_deployment(shop.id, status="failed", last_good_version="1.0.0")
    with pytest.raises(Conflict, match="in use by deployment dev/shop"):
        store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")


def test_delete_is_refused_while_a_run_of_the_version_waits(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    run = store.create_run(
        cluster="prod", deployment="shop", profile="counter-app", version="1.0.0", kind="deploy",
        requested_by="U1", channel="C1", fingerprint="f1", status="awaiting_approval",
    )  # fmt: skip
    with pytest.raises(Conflict, match=f"run {run.id} \\(prod/shop, awaiting approval\\)"):
        store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")
    store.update_run(run.id, status="rejected")
    store.delete_version("counter-app", "1.0.0", actor="U1", channel="C1")


def test_delete_profile_removes_every_version_and_the_channel_context(store: Store) -> None:
    store.create_version(make_profile(), actor="U1", channel="C1", kind="create")
    store.create_version(make_profile(version="1.1.0"), actor="U1", channel="C1", kind="version")
    store.set_current("C1", "counter-app")
    store.delete_profile("counter-app", actor="U1", channel="C1")
    assert store.list_versions("counter-app") == []
    assert store.get_current("C1") is None
    with pytest.raises(NotFound):
        store.delete_profile("counter-app", actor="U1", channel="C1")


def test_each_channel_has_its_own_current_profile(store: Store) -> None:
    assert store.get_current("C1") is None
    store.set_current("C1", "counter-app")
    store.set_current("C2", "other")
    store.set_current("C1", "counter-copy")
    assert (store.get_current("C1"), store.get_current("C2")) == ("counter-copy", "other")
