"""Every built-in service type renders pods that the `restricted` Pod Security Standard admits, and
that still pass the schema check: a namespace labelled `pod-security.kubernetes.io/enforce:
restricted` runs the catalogue unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from bot import catalog_files
from bot.core import podsecurity, render
from bot.kube import schema

CAT = catalog_files.load()
# Types whose template is ours; helm and manifest render people's own objects.
TEMPLATED = sorted(t for t, svc in CAT.services.items() if svc.template.strip())
MINIMAL: dict[str, dict[str, Any]] = {
    "container": {"image": "nginx:1.27"},
    "s3": {"bucket": "my-bucket", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "wJalr/EXAMPLE"},
}
# The container type's optional branches: volumes (fsGroup), only high ports (no sysctl), a command.
CONTAINER_FULL: dict[str, Any] = {
    "image": "ghcr.io/example/api:1.0.0",
    "ports": [3000, 9090],
    "volumes": [{"name": "data", "size": 2, "mountPath": "/var/data"}],
    "command": ["/bin/api"],
    "healthCheck": "none",
}


def render_type(svc_type: str, props: dict[str, Any]) -> list[dict[str, Any]]:
    svc = CAT.get(svc_type)
    generated = [p.name for p in svc.params if p.generate and not props.get(p.name)]
    ctx = render.RenderContext(
        deployment="shop",
        tier="db",
        namespace="shop-db-ns",
        profile="shop",
        profile_version="1.0.0",
        properties=props,
        secrets=dict.fromkeys(generated, "generated-secret-value"),
    )
    return render.service_objects(svc, ctx)


def test_the_templated_types_are_the_ten_built_ins() -> None:
    assert TEMPLATED == [
        "container",
        "kafka",
        "minio",
        "mongodb",
        "mysql",
        "nats",
        "postgresql",
        "redis",
        "s3",
        "vault",
    ]


@pytest.mark.parametrize("svc_type", TEMPLATED)
def test_every_type_passes_restricted_with_its_defaults(svc_type: str) -> None:
    objs = render_type(svc_type, dict(MINIMAL.get(svc_type, {})))
    for obj in objs:
        assert podsecurity.check(obj, "restricted") == [], obj["kind"]
        assert schema.problems(obj) == [], obj["kind"]


def test_the_container_type_passes_restricted_on_its_other_branches() -> None:
    for obj in render_type("container", CONTAINER_FULL):
        assert podsecurity.check(obj, "restricted") == [], obj["kind"]
        assert schema.problems(obj) == [], obj["kind"]


@pytest.mark.parametrize("svc_type", [t for t in TEMPLATED if t != "s3"])
def test_every_pod_runs_non_root_without_capabilities_under_runtime_default_seccomp(svc_type: str) -> None:
    # Not only "what restricted demands" (that allows the fields on either level): the pod-level
    # settings the templates promise, so a template cannot drift to per-container copies.
    specs = [
        spec
        for obj in render_type(svc_type, dict(MINIMAL.get(svc_type, {})))
        for _, spec in podsecurity.pod_specs(obj)
    ]
    assert specs, svc_type
    for spec in specs:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        if svc_type != "container":  # the container type runs the image's own uid
            assert pod_sc["runAsUser"] > 0
            assert pod_sc["runAsGroup"] > 0
            assert pod_sc["fsGroup"] > 0
        for c in spec["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_uids_are_the_images_own() -> None:
    # Checked against each image's Dockerfile; the template comments say why.
    expected = {
        "postgresql": (70, 70),  # postgres:<v>-alpine
        "mysql": (999, 999),
        "mongodb": (999, 999),
        "redis": (999, 1000),  # redis:<v>-alpine
        "nats": (1000, 1000),  # no user in the image: any non-root uid
        "kafka": (1000, 1000),  # apache/kafka's appuser
        "vault": (100, 1000),
        "minio": (1000, 1000),  # no user in the image: MinIO's operator default
    }
    got = {}
    for svc_type in expected:
        (spec,) = [s for o in render_type(svc_type, {}) for _, s in podsecurity.pod_specs(o)]
        got[svc_type] = (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"])
    assert got == expected


@pytest.mark.parametrize(
    ("ports", "sysctls"),
    [
        ([80], [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]),
        ([8080, 443], [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]),
        ([8080], None),
    ],
)
def test_a_non_root_container_may_still_bind_a_low_port(ports: list[int], sysctls: Any) -> None:
    (deploy,) = [
        o for o in render_type("container", {"image": "nginx", "ports": ports}) if o["kind"] == "Deployment"
    ]
    assert deploy["spec"]["template"]["spec"]["securityContext"].get("sysctls") == sysctls


def test_postgresql_runs_read_only_with_writable_run_and_tmp_dirs() -> None:
    (sts,) = [o for o in render_type("postgresql", {}) if o["kind"] == "StatefulSet"]
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts == {"/var/lib/postgresql/data": "data", "/var/run/postgresql": "run", "/tmp": "tmp"}
    assert {v["name"]: v for v in spec["volumes"]} == {
        "run": {"name": "run", "emptyDir": {}},
        "tmp": {"name": "tmp", "emptyDir": {}},
    }
