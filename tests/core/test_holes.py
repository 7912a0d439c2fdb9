"""A plan's holes: made only by the planner, filled only where it made them, with the value's type
kept when the hole is the whole value, and inside a chart's base64 Secret data."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from bot import catalog_files
from bot.core import holes, macros, model, plan
from bot.core.errors import UserError

CATALOG = catalog_files.load()
EXAMPLE = model.from_yaml(
    (Path(__file__).resolve().parents[2] / "profiles/examples/counter-app.yaml").read_text()
)
TARGET = plan.Target(cluster="dev", deployment="shop")
OUTPUTS = {"db": {"PORT": 5432, "PASSWORD": "s3cr3t-pw-value"}}


def _cm(data: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}


def test_a_whole_value_hole_keeps_its_type_and_a_partial_one_becomes_text() -> None:
    made = ["<<db.PORT>>", "<<db.PASSWORD | b64enc>>"]
    obj = _cm({"port": "<<db.PORT>>", "url": "pg://h:<<db.PORT>>/x", "enc": "<<db.PASSWORD | b64enc>>"})
    [filled] = holes.fill([obj], made, OUTPUTS, {}, tier="api")
    assert filled["data"] == {
        "port": 5432,
        "url": "pg://h:5432/x",
        "enc": base64.b64encode(b"s3cr3t-pw-value").decode(),
    }
    assert obj["data"]["port"] == "<<db.PORT>>"  # the plan itself is never changed


def test_text_that_only_looks_like_a_hole_is_never_filled() -> None:
    obj = _cm({"a": "<<db.PASSWORD>>"})
    [filled] = holes.fill([obj], [], OUTPUTS, {}, tier="api")
    assert filled["data"]["a"] == "<<db.PASSWORD>>"
    assert holes.stray([obj], []) == ["<<db.PASSWORD>>"]
    assert holes.stray([obj], ["<<db.PASSWORD>>"]) == []


def test_a_chart_that_base64_encoded_a_hole_has_it_filled_inside_the_data() -> None:
    encoded = base64.b64encode(b"user:<<db.PASSWORD>>").decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"auth": encoded}}
    assert holes.stray([secret], []) == ["<<db.PASSWORD>>"]
    [filled] = holes.fill([secret], ["<<db.PASSWORD>>"], OUTPUTS, {}, tier="web")
    assert base64.b64decode(filled["data"]["auth"]).decode() == "user:s3cr3t-pw-value"


def test_a_hole_transformed_past_recognition_fails_the_tier_instead_of_being_applied() -> None:
    with pytest.raises(UserError, match=r"<<DB.PASSWORD>> is still in the objects"):
        holes.unfilled([_cm({"a": "<<DB.PASSWORD>>"})], "web")


def test_a_missing_output_is_a_clear_error_naming_the_tier() -> None:
    with pytest.raises(UserError, match="has not published an output `NOPE`"):
        holes.fill([_cm({"a": "<<db.NOPE>>"})], ["<<db.NOPE>>"], OUTPUTS, {}, tier="api")


def test_the_plan_holds_every_tier_complete_with_holes_and_its_generated_secret() -> None:
    p = plan.build(EXAMPLE, CATALOG, TARGET, charts=lambda *a: "")
    db, api = p.tiers[0], p.tiers[1]
    kept = next(o for o in db.objects if o["metadata"]["name"] == "shop-postgres-db-generated")
    assert kept["stringData"] == {"password": macros.secret_hole("password")}
    assert db.generated == ["password"] and db.generated_secret == "shop-postgres-db-generated"
    # Only the password is unknown to the api; the database's address is known at plan time.
    assert api.holes == ["<<postgres-db.PASSWORD>>"]
    specs = {s.name: s for s in db.outputs}
    assert specs["PASSWORD"].sensitive
    assert specs["PASSWORD"].secret == {"name": "shop-postgres-db-credentials", "key": "password"}
    assert specs["POSTGRESMSTR_SVC"].value == "shop-postgres-db.shop-postgres-db-ns.svc.cluster.local"


def test_the_fingerprint_covers_the_objects_but_not_the_hole_values() -> None:
    a = plan.build(EXAMPLE, CATALOG, TARGET, charts=lambda *a: "")
    b = plan.build(EXAMPLE, CATALOG, TARGET, charts=lambda *a: "")
    assert a.fingerprint == b.fingerprint
    c = plan.build(EXAMPLE, CATALOG, TARGET, charts=lambda *a: "", sets={"api.replicas": "5"})
    assert c.fingerprint != a.fingerprint


def test_filled_env_secret_rolls_the_pods_when_the_password_changes() -> None:
    p = plan.build(EXAMPLE, CATALOG, TARGET, charts=lambda *a: "")
    api = p.tiers[1]

    def checksum(pw: str) -> str:
        outputs = {"postgres-db": {"PASSWORD": pw, "POSTGRESMSTR_SVC": "db", "USERNAME": "u"}}
        objs = holes.fill(api.objects, api.holes, outputs, {}, tier="api")
        dep = next(o for o in objs if o["kind"] == "Deployment")
        return str(dep["spec"]["template"]["metadata"]["annotations"]["appprofile.dev/env-checksum"])

    assert checksum("first-password-aaaa") != checksum("second-password-bbbb")


def test_a_profile_that_writes_hole_text_itself_is_refused_at_plan_time() -> None:
    text = (Path(__file__).resolve().parents[2] / "profiles/examples/counter-app.yaml").read_text()
    sneaky = model.from_yaml(text.replace("ghcr.io/spectrocloud/hello-universe-api:1.0.8", "<<x.Y>>"))
    with pytest.raises(UserError, match="reserved for values filled at deploy time"):
        plan.build(sneaky, CATALOG, TARGET, charts=lambda *a: "")
