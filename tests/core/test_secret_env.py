"""Secret outputs wired into a container's env become `secretKeyRef`s to a Secret in the
consuming tier's own namespace, never literals in the Deployment (Score and Radius keep secrets
as references); other outputs stay plain values."""

from __future__ import annotations

from pathlib import Path

from bot import catalog_files
from bot.core import holes, model, plan

CATALOG = catalog_files.load()
EXAMPLE = model.from_yaml(
    (Path(__file__).resolve().parents[2] / "profiles/examples/counter-app.yaml").read_text()
)
TARGET = plan.Target(cluster="dev", deployment="shop")


def _api(outputs: dict[str, dict[str, str]]) -> list[dict]:  # type: ignore[type-arg]
    """The api tier as planned (the database's outputs are holes), then filled as a deploy does."""
    tier = EXAMPLE.tier("api")
    planned = plan.render_tier(EXAMPLE, tier, CATALOG, TARGET, outputs={}, charts=lambda *a: "")
    assert planned.holes, "the database's outputs are known only at deploy time"
    return holes.fill(planned.objects, planned.holes, outputs, {}, tier="api")


def test_a_database_password_is_a_reference_and_its_secret_lives_beside_the_consumer() -> None:
    password = "rEal-pAssw0rd-read-back"
    objects = _api(
        {"postgres-db": {"PASSWORD": password, "POSTGRESMSTR_SVC": "db.svc", "USERNAME": "pguser"}}
    )
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"] == {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "shop-api-env", "key": "DB_PASSWORD"}},
    }
    assert password not in str(deployment)
    assert env["DB_HOST"]["value"] == "db.svc"  # not a secret: stays a value
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert secret["metadata"] == {**secret["metadata"], "name": "shop-api-env", "namespace": "shop-api-ns"}
    assert secret["stringData"] == {"DB_PASSWORD": password}


def test_a_new_password_rolls_the_pods_without_showing_itself() -> None:
    def checksum(pw: str) -> str:
        objects = _api({"postgres-db": {"PASSWORD": pw, "POSTGRESMSTR_SVC": "db.svc", "USERNAME": "u"}})
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["appprofile.dev/env-checksum"])

    assert checksum("first-password-aaaa") != checksum("second-password-bbbb")
    assert checksum("first-password-aaaa") == checksum("first-password-aaaa")
