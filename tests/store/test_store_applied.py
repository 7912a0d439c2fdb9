"""Field digests of applied objects (drift checks), kept per object apart from the deployment's
row, on both backends: an object's digests are replaced by its next apply, other objects and
deployments keep theirs, and the deployment row (what lists parse) does not grow."""

from __future__ import annotations

from tests.store.conftest import Backend

API = "apps/v1|Deployment|shop-ns|api"
DB = "v1|Secret|shop-ns|db"


def test_each_objects_digests_are_replaced_by_its_next_apply_only(backend: Backend) -> None:
    store = backend.open()
    shop = store.upsert_deployment("prod", "shop", profile="shop", version="1.0.0", channel="C1", actor="U1")
    blog = store.upsert_deployment("prod", "blog", profile="blog", version="1.0.0", channel="C1", actor="U1")
    first = {API: [[["spec", "replicas"], "a" * 16]], DB: [[["stringData", "password"], "b" * 16]]}
    store.record_applied_fields(shop.id, first)
    store.record_applied_fields(blog.id, {API: [[["spec", "replicas"], "c" * 16]]})
    store.record_applied_fields(shop.id, {API: [[["spec", "replicas"], "d" * 16]]})
    assert store.applied_fields(shop.id) == {API: [[["spec", "replicas"], "d" * 16]], DB: first[DB]}
    assert store.applied_fields(blog.id) == {API: [[["spec", "replicas"], "c" * 16]]}
    assert store.applied_fields(999) == {}
    again = store.get_deployment("prod", "shop")
    assert again is not None and again.inventory == [] and again.model_dump() == shop.model_dump()
