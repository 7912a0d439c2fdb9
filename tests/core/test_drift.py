"""bot.core.drift: which fields an applied object sets, their digests as stored, and what a live
object changed — pure, over plain objects."""

from __future__ import annotations

import copy
from typing import Any

from bot.core import drift
from bot.core.ports import ObjectRef
from bot.core.records import Deployment

KEY = b"k" * 32

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "api",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/name": "api"},
        "annotations": {"team": "a"},
    },
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {"name": "api", "image": "api:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "side", "image": "side:1"},
                ],
                "volumes": [],
            }
        },
    },
}


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    """As an API server answers: server fields added, the applied ones kept."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="7", generation=1, managedFields=[{"manager": "x"}])
    out["status"] = {"replicas": 2}
    return out


def test_paths_are_what_the_body_sets_and_nothing_the_server_owns() -> None:
    texts = [drift.path_text(p) for p in drift.paths(DEPLOYMENT)]
    assert texts == [
        'metadata.labels["app.kubernetes.io/name"]',
        "metadata.annotations.team",
        "spec.replicas",
        "spec.template.spec.containers[name=api].name",
        "spec.template.spec.containers[name=api].image",
        "spec.template.spec.containers[name=api].env[name=A].name",
        "spec.template.spec.containers[name=api].env[name=A].value",
        "spec.template.spec.containers[name=side].name",
        "spec.template.spec.containers[name=side].image",
        "spec.template.spec.volumes",
    ]


def test_nothing_has_drifted_when_the_live_object_is_as_stored_whatever_the_server_adds() -> None:
    recorded = drift.fields(DEPLOYMENT, _stored(DEPLOYMENT), KEY)
    live = _stored(DEPLOYMENT)
    live["metadata"]["resourceVersion"] = "99"  # server-side churn is not drift
    live["status"] = {"replicas": 5, "readyReplicas": 1}
    live["metadata"]["labels"]["added-by-someone"] = "x"  # a field we never set is not ours
    assert drift.changed(recorded, live, KEY) == []


def test_each_changed_or_removed_field_is_named() -> None:
    recorded = drift.fields(DEPLOYMENT, _stored(DEPLOYMENT), KEY)
    live = _stored(DEPLOYMENT)
    live["spec"]["replicas"] = 5
    live["metadata"]["labels"]["app.kubernetes.io/name"] = "other"
    live["spec"]["template"]["spec"]["containers"][0]["env"] = []
    del live["metadata"]["annotations"]
    assert drift.changed(recorded, live, KEY) == [
        'metadata.labels["app.kubernetes.io/name"]',
        "metadata.annotations.team",
        "spec.replicas",
        "spec.template.spec.containers[name=api].env[name=A].name",
        "spec.template.spec.containers[name=api].env[name=A].value",
    ]


def test_named_list_items_are_matched_by_name_not_position() -> None:
    recorded = drift.fields(DEPLOYMENT, _stored(DEPLOYMENT), KEY)
    live = _stored(DEPLOYMENT)
    live["spec"]["template"]["spec"]["containers"].reverse()
    assert drift.changed(recorded, live, KEY) == []


def test_the_stored_answer_is_the_baseline_so_canonical_forms_are_not_drift() -> None:
    applied = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"cpu": "1000m"}}
    stored = {**applied, "spec": {"cpu": "1"}}  # the server's canonical quantity
    recorded = drift.fields(applied, stored, KEY)
    assert drift.changed(recorded, stored, KEY) == []
    assert drift.changed(recorded, {**stored, "spec": {"cpu": "2"}}, KEY) == ["spec.cpu"]


def test_a_secrets_string_data_is_compared_through_its_data_and_never_kept_in_clear() -> None:
    applied = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"password": "hunter2hunter2"},
    }
    stored = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"password": "aHVudGVyMmh1bnRlcjI="},
    }
    recorded = drift.fields(applied, stored, KEY)
    assert "hunter2" not in repr(drift.to_json(recorded))
    assert drift.changed(recorded, stored, KEY) == []
    edited = {**stored, "data": {"password": "b3RoZXI="}}
    assert drift.changed(recorded, edited, KEY) == ["stringData.password"]


def test_digests_depend_on_the_key_and_the_path() -> None:
    (path, digest), *_ = drift.fields(DEPLOYMENT, DEPLOYMENT, KEY)
    (_, other_key), *_ = drift.fields(DEPLOYMENT, DEPLOYMENT, b"other")
    assert digest != other_key
    same_value = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "x", "b": "x"},
    }
    digests = [d for _, d in drift.fields(same_value, same_value, KEY)]
    assert len(set(digests)) == 2
    assert path == ("metadata", "labels", "app.kubernetes.io/name")


def test_recorded_fields_survive_json_and_malformed_records_are_dropped() -> None:
    recorded = drift.fields(DEPLOYMENT, DEPLOYMENT, KEY)
    assert drift.from_json(drift.to_json(recorded)) == recorded
    assert drift.from_json("nonsense") == []
    assert drift.from_json([["not", "a", "pair"], [["ok"], "d1"], [[1], 2]]) == [(("ok",), "d1")]


def _dep(inventory: list[dict[str, Any]]) -> Deployment:
    return Deployment(
        id=1,
        cluster="dev",
        name="shop",
        profile="shop",
        version="1.0.0",
        status="ready",
        channel="C1",
        created_by="U1",
        updated_at="2026-01-01T00:00:00Z",
        inventory=inventory,
    )


def test_a_report_names_changed_deleted_and_unrecorded_objects_and_its_digest_is_stable() -> None:
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "tier": "api"}
    inventory = [{**ref, "name": "api"}, {**ref, "name": "gone"}, {**ref, "name": "old"}]
    # Filed by the key an applied object and its inventory entry share; "old" was applied before
    # digests were kept.
    recorded = {
        drift.object_key(DEPLOYMENT): drift.to_json(drift.fields(DEPLOYMENT, DEPLOYMENT, KEY)),
        drift.object_key(inventory[1]): [],
    }
    assert drift.object_key(DEPLOYMENT) == drift.object_key(inventory[0]) == "apps/v1|Deployment|shop|api"
    edited = copy.deepcopy(DEPLOYMENT)
    edited["spec"]["replicas"] = 9
    live = {"api": edited, "old": DEPLOYMENT}

    def read(r: ObjectRef) -> dict[str, Any] | None:
        return live.get(r.name)

    found = drift.report(read, _dep(inventory), KEY, recorded)
    assert [o.line for o in found.objects] == [
        "Deployment shop/api: spec.replicas",
        "Deployment shop/gone was deleted",
    ]
    assert (found.checked, found.unrecorded, found.drifted) == (3, 1, True)
    assert found.digest() == drift.report(read, _dep(inventory), KEY, recorded).digest() != ""
    live["api"] = DEPLOYMENT
    live["gone"] = DEPLOYMENT
    assert drift.report(read, _dep(inventory), KEY, recorded).digest() == ""
