"""A small catalogue built here (not from profiles/services/) and what tiers publish from it.

The other macro and validation tests import `CATALOG`, `ctx` and `DESIGN_PROFILE` from this module.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.core import macros, model
from bot.core.catalog import Catalog, Output, OutputSource, Param, ServiceType
from bot.core.errors import NotFound


def _outputs(
    *names: str, secret: tuple[str, ...] = (), aliases: dict[str, list[str]] | None = None
) -> list[Output]:
    return [
        Output(
            name=n,
            secret=n in secret,
            source=OutputSource(value=f"{{{{ {n.lower()} }}}}"),
            aliases=(aliases or {}).get(n, []),
        )
        for n in names
    ]


CATALOG = Catalog(
    services={
        "container": ServiceType(
            type="container",
            title="Container",
            description="a container image",
            params=[
                Param(name="image", required=True),
                Param(name="replicas", kind="integer", default=1, minimum=1, maximum=10),
                Param(name="access", enum=["public", "private"], default="private"),
                Param(name="ports", kind="list", default=[]),
                Param(name="env", kind="list", default=[]),
                Param(name="volumes", kind="list", default=[]),
                Param(name="command", kind="list", default=[]),
                Param(name="args", kind="list", default=[]),
            ],
            outputs=_outputs(
                "CONTAINER_NAMESPACE",
                "CONTAINER_SVC",
                "CONTAINER_SVC_PORT",
                "CONTAINER_SVC_EXTERNALHOSTNAME",
                "CONTAINER_SVC_EXTERNALIP",
            ),
        ),
        "postgresql": ServiceType(
            type="postgresql",
            title="PostgreSQL",
            description="a database",
            params=[
                Param(name="username", default="pguser"),
                Param(name="password", secret=True, generate=True),
                Param(name="databaseName", default="app"),
                Param(name="volumeSize", kind="integer", default=1, minimum=1, maximum=100),
                Param(name="version", default="16"),
            ],
            outputs=_outputs(
                "USERNAME", "PASSWORD", "POSTGRESMSTR_SVC", "POSTGRESMSTR_SVC_PORT", secret=("PASSWORD",)
            ),
        ),
        "mysql": ServiceType(
            type="mysql",
            title="MySQL",
            description="a database",
            params=[Param(name="version", default="8")],
            outputs=_outputs(
                "ROOT_PASSWORD",
                "MYSQLMSTR_SVC",
                "MYSQLMSTR_SVC_PORT",
                "MYSQLMSTR_SVC_NAMESPACE",
                secret=("ROOT_PASSWORD",),
                aliases={"MYSQLMSTR_SVC_NAMESPACE": ["MYSQLMSTR_NS"]},
            ),
        ),
        "helm": ServiceType(
            type="helm",
            title="Helm chart",
            description="a chart",
            params=[
                Param(name="chart", required=True),
                Param(name="version"),
                Param(name="values", kind="object", default={}),
            ],
        ),
        "manifest": ServiceType(type="manifest", title="Manifests", description="raw objects"),
    }
)

# DESIGN §2's example, verbatim.
DESIGN_PROFILE = """\
name: counter-app
version: 1.0.0
description: Counter demo
tags: ["owner:platform"]
tiers:
  - name: postgres-db
    type: postgresql
    properties: {username: pguser, databaseName: counter, volumeSize: 2, version: "16"}
  - name: api
    type: container
    properties:
      image: ghcr.io/example/api:1.0.0
      replicas: 2
      access: public
      ports: [3000]
      env:
        - {name: DB_HOST, value: "{{.spectro.app.$appDeploymentName.postgres-db.POSTGRESMSTR_SVC}}"}
        - {name: DB_PASSWORD, value: "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}"}
      volumes: [{name: data, size: 1, mountPath: /var/data}]
      command: []
      args: []
  - name: web
    type: helm
    properties: {chart: oci://registry.example.com/charts/web, version: 1.2.0,
                 values: {apiUrl: "http://{{.spectro.app.$appDeploymentName.api.CONTAINER_SVC}}:3000"}}
    outputs: [{name: WEB_SVC, service: {name: "{{.spectro.system.appdeployment.tiername}}-web", field: host}}]
  - name: extras
    type: manifest
    parameters: {NAMESPACE: "{{.spectro.system.appdeployment.tiername}}-ns"}
    manifests:
      - name: secret
        content: |
          apiVersion: v1
          kind: Secret
          metadata: {name: mysecret, namespace: "{{.spectro.system.apptier.NAMESPACE}}"}
          stringData: {password: "{{.spectro.app.$appDeploymentName.postgres-db.PASSWORD}}"}
"""


def ctx(outputs: dict[str, dict[str, Any]] | None = None, **changes: Any) -> macros.Context:
    """The context of tier `api` of deployment `shop` on cluster `dev`."""
    base: dict[str, Any] = {
        "profile_name": "counter-app",
        "profile_uid": "prof-uid-1",
        "profile_version": "1.1.0",
        "deployment_name": "shop",
        "deployment_uid": "dep-uid-2",
        "tier_name": "api",
        "tier_uid": "tier-uid-3",
        "tier_params": {"NAMESPACE": "shop-api-ns", "REGION": "eu-west-1"},
        "cluster_name": "dev-cluster",
        "user_name": "ann",
        "outputs": outputs if outputs is not None else {},
    }
    base.update(changes)
    return macros.Context(**base)


def test_available_outputs_of_a_catalogue_type_include_aliases() -> None:
    profile = model.from_yaml(
        "name: p\ntiers:\n  - {name: db, type: mysql}\n  - {name: pg, type: postgresql}\n"
    )
    assert macros.available_outputs(profile.tier("db"), CATALOG) == [
        "ROOT_PASSWORD",
        "MYSQLMSTR_SVC",
        "MYSQLMSTR_SVC_PORT",
        "MYSQLMSTR_SVC_NAMESPACE",
        "MYSQLMSTR_NS",
    ]
    assert macros.available_outputs(profile.tier("pg"), CATALOG) == [
        "USERNAME",
        "PASSWORD",
        "POSTGRESMSTR_SVC",
        "POSTGRESMSTR_SVC_PORT",
    ]


def test_available_outputs_of_helm_and_manifest_tiers_are_what_they_declare() -> None:
    profile = model.from_yaml(DESIGN_PROFILE)
    assert macros.available_outputs(profile.tier("web"), CATALOG) == ["WEB_SVC"]
    assert macros.available_outputs(profile.tier("extras"), CATALOG) == []


def test_available_outputs_without_the_type_in_the_catalogue_uses_declarations_only() -> None:
    profile = model.from_yaml(DESIGN_PROFILE)
    partial = Catalog(services={"container": CATALOG.services["container"]})
    assert macros.available_outputs(profile.tier("web"), partial) == ["WEB_SVC"]
    assert macros.available_outputs(profile.tier("postgres-db"), partial) == []


def test_unknown_type_in_catalogue_is_a_user_error() -> None:
    with pytest.raises(NotFound, match="no service type `kafka`"):
        CATALOG.get("kafka")
