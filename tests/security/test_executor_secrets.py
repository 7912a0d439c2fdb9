"""The executor over a scripted cluster: failures echo values the way Kubernetes, admission
webhooks and pod diagnostics do, and nothing secret may reach the run's error, the progress
reports (message, tier lines, thread details), the deployment's outputs, the audit log or the log.

`run.plan` (the rendered objects, persisted in SQLite to resume runs) is left out on purpose: it
is never shown. It does hold user-given secret values (e.g. the s3 Secret's stringData)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.core.commands import DeployRequest
from bot.core.ports import ClusterError
from bot.slack import blocks, progress
from tests.executor.conftest import Rig
from tests.security.secrets_data import AWS_KEY_ID, AWS_SECRET, PG_PASSWORD, PROFILE, dump, leaked

GENERATED = "pw-0000-s3cr3t-value"  # the Rig's first generated password


def deploy(rig: Rig, profile: str, **sets: str) -> int:
    ticket = rig.service.deploy(
        rig.actor, DeployRequest(profile=profile, version=None, cluster="dev-cluster", name=None, sets=sets)
    )
    assert ticket.run_id is not None
    rig.wait_idle()
    return ticket.run_id


def _no_plan(run_json: str) -> dict[str, Any]:
    data = json.loads(run_json)
    data.pop("plan", None)
    return data


def shown_anywhere(rig: Rig, run_id: int, logs: str) -> str:
    """Everything that is displayed or written somewhere a person or a log shipper reads it."""
    run = rig.store.get_run(run_id)
    dep = rig.store.get_deployment(run.cluster, run.deployment)
    parts: list[Any] = [
        _no_plan(run.model_dump_json()),
        rig.reporter.events,  # includes detail() texts posted in the progress thread
        [_no_plan(s) for s in rig.reporter.snapshots],  # every redraw of the progress message
        dep.model_dump(mode="json") if dep else None,
        [e.model_dump(mode="json") for e in rig.store.list_audit(limit=500)],
        # Every progress message the Slack reporter would draw from the events it received.
        [progress.blocks(e.view) for e in rig.reporter.published],
        logs,
    ]
    return dump(parts)


# -- safe paths -----------------------------------------------------------------------------------


def test_a_successful_deploy_shows_no_user_given_or_generated_secret(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.service.create(rig.actor, PROFILE)
    run_id = deploy(rig, "vault-app")
    assert rig.store.get_run(run_id).status == "succeeded"
    everything = shown_anywhere(rig, run_id, caplog.text)
    assert leaked(everything, (PG_PASSWORD, AWS_KEY_ID, AWS_SECRET)) == []
    dep = rig.store.get_deployment("dev-cluster", "vault-app")
    assert dep is not None
    assert dep.outputs["objects"]["AWS_SECRET_ACCESS_KEY"] == blocks.MASK
    # The `outputs` command and the final progress message show the masked values only.
    out = blocks.outputs("vault-app", dep.outputs, rig.catalog)
    assert leaked(dump(out.model_dump()) + progress.outputs_text(dep.outputs)) == []


def test_a_generated_password_echoed_by_an_apply_error_is_masked(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.create()  # counter-app: the postgres password is generated, the api gets it in its env
    rig.cluster.faults[("apply", "Deployment/counter-app-api")] = ClusterError(
        f'cluster dev-cluster: cannot patch deployments: admission webhook denied: env DB_PASSWORD="{GENERATED}" '
        "is a literal secret",
        status=422,
    )
    run_id = deploy(rig, "counter-app")
    assert rig.store.get_run(run_id).status == "failed"
    assert GENERATED not in shown_anywhere(rig, run_id, caplog.text)


# -- leaks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "secret"),
    [
        ("apply s3 Secret", AWS_SECRET),
        ("readiness of the postgres StatefulSet", PG_PASSWORD),
    ],
)
def test_a_user_given_secret_echoed_by_its_own_tier_is_masked(
    rig: Rig, caplog: pytest.LogCaptureFixture, where: str, secret: str
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.service.create(rig.actor, PROFILE)
    if where.startswith("apply"):
        # e.g. an admission webhook (or any message format other than `Invalid value: "…"`,
        # the only one bot/kube masks for Secrets) quoting the data it rejected.
        rig.cluster.faults[("apply", "Secret/vault-app-objects-credentials")] = ClusterError(
            "cluster dev-cluster: cannot patch secrets in `vault-app-objects-ns`: admission webhook "
            f'"secrets-policy" denied the request: AWS_SECRET_ACCESS_KEY value {secret} looks like a live key',
            status=422,
        )
    else:
        rig.cluster.break_rollout(
            "StatefulSet",
            "vault-app-db",
            "CreateContainerConfigError",
            message=f"FATAL: password {secret} rejected by initdb",
        )
    run_id = deploy(rig, "vault-app")
    assert rig.store.get_run(run_id).status == "failed"
    assert secret not in shown_anywhere(rig, run_id, caplog.text)


def test_a_failure_storing_the_generated_password_does_not_show_it(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.create()
    rig.cluster.faults[("apply", "Secret/counter-app-postgres-db-generated")] = ClusterError(
        "cluster dev-cluster: cannot patch secrets in `counter-app-postgres-db-ns`: admission webhook "
        f'denied the request: stringData.password "{GENERATED}" is shorter than policy requires',
        status=422,
    )
    run_id = deploy(rig, "counter-app")
    assert rig.store.get_run(run_id).status == "failed"
    assert GENERATED not in shown_anywhere(rig, run_id, caplog.text)


MANIFEST_OUTPUT = """\
name: dsn-app
tiers:
  - name: db
    type: postgresql
    properties: {username: pguser, databaseName: app}
  - name: wiring
    type: manifest
    parameters: {NAMESPACE: "{{.spectro.system.appdeployment.tiername}}-ns"}
    manifests:
      - name: cm
        content: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: wiring}
          data: {note: hello}
    outputs:
      - {name: DB_DSN, value: "postgres://pguser:{{.spectro.app.$appDeploymentName.db.PASSWORD}}@db:5432/app"}
"""


def test_an_output_value_built_from_a_secret_output_is_masked(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.service.create(rig.actor, MANIFEST_OUTPUT)
    run_id = deploy(rig, "dsn-app")
    assert rig.store.get_run(run_id).status == "succeeded", rig.store.get_run(run_id).error
    dep = rig.store.get_deployment("dev-cluster", "dsn-app")
    assert dep is not None and "DB_DSN" in dep.outputs["wiring"]
    out = blocks.outputs("dsn-app", dep.outputs, rig.catalog)
    assert GENERATED not in dump(out.model_dump()) + progress.outputs_text(dep.outputs)
    assert GENERATED not in shown_anywhere(rig, run_id, caplog.text)
