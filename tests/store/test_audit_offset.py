"""`list_audit(offset=...)`: the audit log a page at a time, on both backends, filters kept."""

from __future__ import annotations

from tests.store.conftest import Backend


def test_offset_pages_through_the_log_newest_first(backend: Backend) -> None:
    store = backend.open()
    for i in range(45):
        store.audit("U1", "C1", "use", f"app-{i:02d}", "ok")
    newest_first = [f"app-{i:02d}" for i in range(44, -1, -1)]
    pages = [[e.target for e in store.list_audit(limit=20, offset=start)] for start in (0, 20, 40)]
    assert pages == [newest_first[:20], newest_first[20:40], newest_first[40:]]
    assert store.list_audit(limit=20, offset=45) == []
    assert store.list_audit(limit=20) == store.list_audit(limit=20, offset=0)


def test_offset_counts_only_the_rows_the_filters_match(backend: Backend) -> None:
    store = backend.open()
    for i in range(30):
        store.audit("U1", "C1", "deploy", f"prod/shop-{i:02d}", "ok", profile="counter-app")
        store.audit("U1", "C1", "deploy", f"dev/shop-{i:02d}", "ok", profile="counter-app")
        store.audit("U1", "C1", "deploy", f"prod/blog-{i:02d}", "ok", profile="blog")
    prod = [e.target for e in store.list_audit(limit=5, offset=20, cluster="prod", profile="counter-app")]
    assert prod == [f"prod/shop-{i:02d}" for i in range(9, 4, -1)]
    assert [e.target for e in store.list_audit(limit=21, offset=40, cluster="dev")] == []
