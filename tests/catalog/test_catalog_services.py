"""The twelve service types: files load, templates render valid, labelled, well-named objects,
outputs match DESIGN §2, and the example profiles fit the catalogue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot import catalog_files
from bot.core import catalog, model, render
from bot.core.errors import UserError

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.35.0"  # newest schema ≤ 1.35 that kubernetes-validate 1.37 ships
CAT = catalog_files.load()

# DESIGN §2's table: output -> secret?, plus aliases.
DESIGN_OUTPUTS: dict[str, dict[str, bool]] = {
    "container": dict.fromkeys(
        [
            "CONTAINER_NAMESPACE",
            "CONTAINER_SVC",
            "CONTAINER_SVC_PORT",
            "CONTAINER_SVC_EXTERNALHOSTNAME",
            "CONTAINER_SVC_EXTERNALIP",
        ],
        False,
    ),
    "helm": {},
    "manifest": {},
    "postgresql": {
        "USERNAME": False,
        "PASSWORD": True,
        "POSTGRESMSTR_SVC": False,
        "POSTGRESMSTR_SVC_PORT": False,
    },
    "mysql": {
        "ROOT_PASSWORD": True,
        "MYSQLMSTR_SVC": False,
        "MYSQLMSTR_SVC_PORT": False,
        "MYSQLMSTR_SVC_NAMESPACE": False,
    },
    "mongodb": {"USERNAME": False, "PASSWORD": True, "MONGO_URI": True, "MONGO_URI_SRV": True},
    "redis": {
        "USERNAME": False,
        "PASSWORD": True,
        "REDISMSTR_SVC": False,
        "REDISMSTR_SVC_PORT": False,
        "REDISMSTR_NS": False,
    },
    "nats": {"NATS_SVC": False, "NATS_SVC_PORT": False, "NATS_URL": False},
    "kafka": {"KAFKA_SVC": False, "KAFKA_SVC_PORT": False, "KAFKA_BOOTSTRAP_SERVERS": False},
    "vault": {
        "VAULT_ROOT_TOKEN": True,
        "VAULTMSTR_SVC": False,
        "VAULTMSTR_SVC_PORT": False,
        "VAULTMSTR_SVC_NAMESPACE": False,
    },
    "minio": {
        "MINIO_SVC": False,
        "MINIO_SVC_PORT": False,
        "MINIO_ENDPOINT": False,
        "USERNAME": False,
        "PASSWORD": True,
    },
    "s3": {
        "S3_BUCKET": False,
        "S3_REGION": False,
        "S3_ENDPOINT": False,
        "AWS_ACCESS_KEY_ID": True,
        "AWS_SECRET_ACCESS_KEY": True,
    },
}
ALIASES = {
    "mysql": {"MYSQLMSTR_SVC_NAMESPACE": ["MYSQLMSTR_NS"]},
    "redis": {"REDISMSTR_NS": ["REDISMSTR_SVC_NAMESPACE"]},
}

TEMPLATED = [t for t in model.TIER_TYPES if t not in ("helm", "manifest")]
REQUIRED: dict[str, dict[str, Any]] = {
    "container": {"image": "nginx:1.27"},
    "s3": {
        "bucket": "my-bucket",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "secretAccessKey": "wJalr/EXAMPLEKEY",
    },
}
NON_DEFAULT: dict[str, dict[str, Any]] = {
    "container": {
        "image": "ghcr.io/example/api:1.0.0",
        "replicas": 3,
        "access": "public",
        "ports": [3000, 9090],
        "env": [
            {"name": "DB_HOST", "value": "db.example"},
            {"name": "DEBUG", "value": True},
            {"name": "EMPTY"},
        ],
        "volumes": [
            {"name": "data", "size": 2, "mountPath": "/var/data"},
            {"name": "cache", "size": 1, "mountPath": "/c"},
        ],
        "command": ["/bin/api"],
        "args": ["--port", 3000],
        "healthCheck": "none",
        "cpuRequest": 200,
        "cpuLimit": 2000,
        "memoryRequest": 512,
        "memoryLimit": 2048,
    },
    "postgresql": {
        "username": "pguser",
        "databaseName": "counter",
        "version": 17,
        "volumeSize": 20,
        "password": "given-pw",
    },
    "mysql": {"databaseName": "shop", "version": "8.0", "storageClass": "fast-ssd", "rootPassword": "r00t"},
    "mongodb": {"username": "docs", "version": "8.0", "volumeSize": 3},
    "redis": {"version": "7.2", "volumeSize": 1000, "memoryLimit": 1024},
    "nats": {"version": "2.11", "volumeSize": 1},
    "kafka": {"version": "3.8.1", "memoryLimit": 4096, "memoryRequest": 2048},
    "vault": {"version": "1.18.3", "rootToken": "dev-root"},
    "minio": {"rootUser": "objects", "volumeSize": 100, "storageClass": "standard"},
    "s3": {**REQUIRED["s3"], "region": "eu-west-1", "endpoint": "https://minio.example:9000"},
}


def ctx_for(
    svc_type: str, props: dict[str, Any], *, deployment: str = "shop", tier: str = "db"
) -> render.RenderContext:
    svc = CAT.get(svc_type)
    generated = [p.name for p in svc.params if p.generate and not props.get(p.name)]
    return render.RenderContext(
        deployment=deployment,
        tier=tier,
        namespace=f"{deployment}-{tier}-ns",
        profile="shop",
        profile_version="1.2.0",
        properties=props,
        secrets={name: "<generated at deploy>" for name in generated},
    )


def validate_all(objs: list[dict[str, Any]]) -> None:
    assert objs
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def assert_labelled(objs: list[dict[str, Any]], ctx: render.RenderContext) -> None:
    for obj in objs:
        got = obj["metadata"]["labels"]
        assert got["app.kubernetes.io/managed-by"] == "appprofile"
        assert got["appprofile.dev/deployment"] == ctx.deployment
        assert got["appprofile.dev/tier"] == ctx.tier
        assert got["appprofile.dev/profile-version"] == ctx.profile_version
        template = (obj.get("spec") or {}).get("template")
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            assert template["metadata"]["labels"]["appprofile.dev/deployment"] == ctx.deployment
            # The selector must still pick the pods.
            for k, v in obj["spec"]["selector"]["matchLabels"].items():
                assert template["metadata"]["labels"][k] == v


def test_every_tier_type_has_a_service_file() -> None:
    assert set(CAT.names()) == set(model.TIER_TYPES)
    assert set(GENERATING) == {"postgresql", "mysql", "mongodb", "redis", "vault", "minio"}
    for svc in CAT.services.values():
        render.check_template(svc)
        assert svc.description, svc.type
        assert all(p.description for p in svc.params), svc.type
        assert bool(svc.template.strip()) == (svc.type not in ("helm", "manifest"))


@pytest.mark.parametrize("svc_type", model.TIER_TYPES)
def test_outputs_match_design_table(svc_type: str) -> None:
    svc = CAT.get(svc_type)
    assert {o.name: o.secret for o in svc.outputs} == DESIGN_OUTPUTS[svc_type]
    assert {o.name: o.aliases for o in svc.outputs if o.aliases} == ALIASES.get(svc_type, {})
    for o in svc.outputs:
        # A secret never travels as a plain pre-computed value.
        assert (o.source.secret is not None) == o.secret, o.name


@pytest.mark.parametrize("svc_type", TEMPLATED)
@pytest.mark.parametrize("variant", ["defaults", "non-default"])
def test_type_renders_valid_labelled_objects(svc_type: str, variant: str) -> None:
    props = dict(REQUIRED.get(svc_type, {})) if variant == "defaults" else NON_DEFAULT[svc_type]
    svc = CAT.get(svc_type)
    ctx = ctx_for(svc_type, props)
    objs = render.service_objects(svc, ctx)
    validate_all(objs)
    assert_labelled(objs, ctx)
    assert {o["metadata"]["namespace"] for o in objs} == {ctx.namespace}
    for obj in objs:
        for pod in [obj["spec"]["template"]["spec"]] if obj["kind"] in ("Deployment", "StatefulSet") else []:
            for c in pod["containers"]:
                res = c["resources"]
                assert res["requests"]["cpu"]
                assert res["limits"]["memory"]
                assert c["securityContext"]["allowPrivilegeEscalation"] is False
                if svc_type != "container" or variant == "defaults":
                    assert "readinessProbe" in c
                    assert "livenessProbe" in c
    values = render.output_values(svc, ctx)
    sources = render.output_sources(svc, ctx)
    expected = set(DESIGN_OUTPUTS[svc_type]) | {a for al in ALIASES.get(svc_type, {}).values() for a in al}
    assert set(values) | set(sources) == expected
    assert all(isinstance(v, str) and v for v in values.values())
    # Secret outputs point at a Secret the tier itself renders, with that key present.
    secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
    for src in sources.values():
        if src.secret is not None:
            assert src.secret["key"] in secrets[src.secret["name"]]["stringData"]
    # Services named in output sources exist too.
    services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
    for src in sources.values():
        if src.service is not None:
            assert src.service["name"] in services


GENERATING = [t for t in TEMPLATED if any(p.generate for p in CAT.get(t).params)]


@pytest.mark.parametrize("svc_type", GENERATING)
def test_generated_secrets_land_in_the_credentials_secret(svc_type: str) -> None:
    svc = CAT.get(svc_type)
    generated = [p.name for p in svc.params if p.generate]
    ctx = ctx_for(svc_type, dict(REQUIRED.get(svc_type, {})))
    ctx = ctx.model_copy(update={"secrets": dict.fromkeys(generated, "Zq9-generated-value")})
    objs = render.service_objects(svc, ctx)
    (cred,) = [
        o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == render.credentials_secret(ctx)
    ]
    for name in generated:
        assert cred["stringData"][name] == "Zq9-generated-value"
    # Nothing but the Secret holds the value in clear.
    others = yaml.safe_dump([o for o in objs if o["kind"] != "Secret"])
    assert "Zq9-generated-value" not in others
    assert "Zq9-generated-value" not in repr(ctx)


def test_container_outputs_and_service_shape() -> None:
    svc = CAT.get("container")
    ctx = ctx_for("container", NON_DEFAULT["container"], deployment="shop", tier="api")
    objs = render.service_objects(svc, ctx)
    by_kind = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert ("PersistentVolumeClaim", "shop-api-data") in by_kind
    service = next(o for o in objs if o["kind"] == "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert [p["port"] for p in service["spec"]["ports"]] == [3000, 9090]
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    assert deploy["spec"]["strategy"]["type"] == "Recreate"
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "DB_HOST", "value": "db.example"},
        {"name": "DEBUG", "value": "true"},
        {"name": "EMPTY", "value": ""},
    ]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["args"] == ["--port", "3000"]
    assert render.output_values(svc, ctx) == {
        "CONTAINER_NAMESPACE": "shop-api-ns",
        "CONTAINER_SVC": "shop-api-svc.shop-api-ns.svc.cluster.local",
        "CONTAINER_SVC_PORT": "3000",
    }
    private = render.service_objects(svc, ctx_for("container", {"image": "nginx"}))
    assert next(o for o in private if o["kind"] == "Service")["spec"]["type"] == "ClusterIP"


def test_database_outputs_are_service_dns_names() -> None:
    ctx = ctx_for("postgresql", {"username": "pguser"}, deployment="counter", tier="postgres-db")
    assert render.output_values(CAT.get("postgresql"), ctx) == {
        "USERNAME": "pguser",
        "POSTGRESMSTR_SVC": "counter-postgres-db.counter-postgres-db-ns.svc.cluster.local",
        "POSTGRESMSTR_SVC_PORT": "5432",
    }
    mysql = render.output_values(CAT.get("mysql"), ctx_for("mysql", {}))
    assert mysql["MYSQLMSTR_NS"] == mysql["MYSQLMSTR_SVC_NAMESPACE"] == "shop-db-ns"


def test_mongodb_uris_encode_credentials() -> None:
    ctx = ctx_for("mongodb", {"username": "docs"}).model_copy(update={"secrets": {"password": "p@ss:/w?rd"}})
    objs = render.service_objects(CAT.get("mongodb"), ctx)
    data = next(o for o in objs if o["kind"] == "Secret")["stringData"]
    assert (
        data["MONGO_URI"]
        == "mongodb://docs:p%40ss%3A%2Fw%3Frd@shop-db.shop-db-ns.svc.cluster.local:27017/app?authSource=admin"
    )
    assert data["MONGO_URI_SRV"].startswith(
        "mongodb+srv://docs:p%40ss%3A%2Fw%3Frd@shop-db-headless.shop-db-ns.svc"
    )
    headless = next(o for o in objs if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None")
    assert headless["spec"]["ports"][0]["name"] == "mongodb"  # SRV record _mongodb._tcp


LONG_PROFILE = "p" * 40
LONG_TIER = "t" * 63


@pytest.mark.parametrize("svc_type", TEMPLATED)
def test_names_fit_kubernetes_limits_with_longest_identifiers(svc_type: str) -> None:
    props = dict(NON_DEFAULT[svc_type])
    ctx = ctx_for(svc_type, props, deployment=LONG_PROFILE, tier=LONG_TIER)
    objs = render.service_objects(CAT.get(svc_type), ctx)
    validate_all(objs)
    dns1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    for obj in objs:
        name = obj["metadata"]["name"]
        assert len(name) <= 253
        if obj["kind"] == "Service":
            assert dns1035.match(name), name
        if obj["kind"] == "StatefulSet":
            assert len(name) <= 52
            assert len(obj["spec"]["serviceName"]) <= 63
        assert len(name) <= 63
    # Deterministic: the same identifiers give the same names.
    again = render.service_objects(CAT.get(svc_type), ctx)
    assert [o["metadata"]["name"] for o in again] == [o["metadata"]["name"] for o in objs]
    # And outputs still point at the rendered Service.
    services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
    for value in render.output_values(CAT.get(svc_type), ctx).values():
        if ".svc.cluster.local" in value:
            host = value.split("://")[-1].split(".")[0]
            assert host in services


def test_object_name_trims_with_a_hash_and_keeps_distinct_inputs_distinct() -> None:
    a = render.object_name("a" * 100, "svc")
    b = render.object_name("a" * 99 + "b", "svc")
    assert len(a) == len(b) == 63
    assert a != b
    assert a.endswith("-svc")
    assert render.object_name("shop-api", "svc") == "shop-api-svc"
    assert render.object_name("1shop-api", "svc", dns1035=True)[0].isalpha()


@pytest.mark.parametrize(
    ("svc_type", "props", "fragment"),
    [
        ("container", {"image": "nginx", "ports": [0]}, "properties.ports[0]"),
        ("container", {"image": "nginx", "ports": []}, "properties.ports"),
        ("container", {"image": "nginx", "env": [{"value": "x"}]}, "properties.env[0] needs `name`"),
        ("container", {"image": "nginx", "env": ["A=1"]}, "properties.env[0] must be a mapping"),
        ("container", {"image": "nginx", "env": [{"name": "A", "vaule": "1"}]}, "unknown key `vaule`"),
        (
            "container",
            {"image": "nginx", "volumes": [{"name": "Data", "size": 1, "mountPath": "/d"}]},
            "volumes[0].name",
        ),
        (
            "container",
            {"image": "nginx", "volumes": [{"name": "d", "size": 5000, "mountPath": "/d"}]},
            "volumes[0].size",
        ),
        ("container", {"image": "nginx", "cpuRequest": 900, "cpuLimit": 100}, "cpuRequest"),
        ("container", {"image": "nginx", "replicas": 11}, "properties.replicas"),
        ("container", {"image": "nginx", "replicas": "{{ 7*7 }}"}, "properties.replicas"),
        ("postgresql", {"username": "postgres"}, "properties.username"),
        ("postgresql", {"username": "my-user"}, "properties.username"),
        ("postgresql", {"version": 9}, "properties.version"),
        ("postgresql", {"volumeSize": 0}, "properties.volumeSize"),
        ("minio", {"rootPassword": "short"}, "rootPassword is shorter than 8"),
        ("s3", {"bucket": "b-1"}, "properties.accessKeyId is required"),
    ],
)
def test_bad_property_values_are_user_errors_naming_the_tier(
    svc_type: str, props: dict[str, Any], fragment: str
) -> None:
    ctx = ctx_for(svc_type, props, tier="bad-tier")
    with pytest.raises(UserError) as err:
        render.service_objects(CAT.get(svc_type), ctx)
    assert "tier bad-tier" in err.value.message
    assert fragment in err.value.message


def test_secret_values_never_appear_in_errors() -> None:
    ctx = ctx_for("minio", {}).model_copy(update={"secrets": {"rootPassword": "tiny"}})
    with pytest.raises(UserError) as err:
        render.service_objects(CAT.get("minio"), ctx)
    assert "tiny" not in str(err.value)


# --- examples ---------------------------------------------------------------------------------

EXAMPLES = sorted((REPO / "profiles" / "examples").glob("*.yaml"))
MACRO = re.compile(r"\{\{[^{}]*\}\}")


def test_the_three_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"counter-app.yaml", "web-helm.yaml", "everything.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_fits_the_catalogue(path: Path) -> None:
    profile = model.from_yaml(path.read_text(encoding="utf-8"))
    below: set[str] = set()
    for tier in profile.tiers:
        catalog.check_properties(tier.name, CAT.get(tier.type), tier.properties)
        # Macros name only tiers below (the full check is `macros.check`, tested with macros).
        for ref in re.findall(r"\$appDeploymentName\.([a-z0-9-]+)\.", yaml.safe_dump(tier.model_dump())):
            assert ref in below, f"{path.name}: tier {tier.name} refers to {ref}"
        below.add(tier.name)
    assert model.from_yaml(model.to_yaml(profile)) == profile


def test_everything_uses_all_twelve_types() -> None:
    profile = model.from_yaml((REPO / "profiles/examples/everything.yaml").read_text(encoding="utf-8"))
    assert sorted({t.type for t in profile.tiers}) == sorted(model.TIER_TYPES)


def _placeholders(value: Any) -> Any:
    # Stand-in for the macro resolver: every macro becomes a plain word.
    if isinstance(value, str):
        return MACRO.sub("placeholder", value)
    if isinstance(value, dict):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_service_tiers_render_valid_objects(path: Path) -> None:
    profile = model.from_yaml(path.read_text(encoding="utf-8"))
    for tier in profile.tiers:
        if tier.type in ("helm", "manifest"):
            continue
        ctx = ctx_for(tier.type, _placeholders(tier.properties), deployment=profile.name, tier=tier.name)
        validate_all(render.service_objects(CAT.get(tier.type), ctx))


def test_catalogue_loads_from_an_explicit_root(tmp_path: Path) -> None:
    (tmp_path / "services" / "redis").mkdir(parents=True)
    src = REPO / "profiles" / "services" / "redis"
    for name in ("service.yaml", "template.yaml.j2"):
        (tmp_path / "services" / "redis" / name).write_text((src / name).read_text())
    cat = catalog_files.load(tmp_path)
    assert cat.names() == ["redis"]
    assert cat.get("redis") == CAT.get("redis")
    assert catalog_files.load() is catalog_files.load()
    (tmp_path / "services" / "nats").mkdir()
    (tmp_path / "services" / "nats" / "service.yaml").write_text((src / "service.yaml").read_text())
    with pytest.raises(ValueError, match="declares type 'redis' in folder 'nats'"):
        catalog_files.load(tmp_path)
