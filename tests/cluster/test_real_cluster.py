"""Against a real Kubernetes cluster: what the emulator cannot show (SSA, admission, kubelet timing).

Opt-in and never in CI here: set APPPROFILE_E2E_CONTEXT to a kubeconfig context of a disposable
cluster (kind, k3d, minikube) and run `make pytest PYTEST_ARGS="-m cluster"`. It creates and then
purges one deployment named `appprofile-e2e-<random>`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from bot.core.commands import DeployRequest
from bot.kube import connect
from tests.executor.conftest import Rig

CONTEXT = os.environ.get("APPPROFILE_E2E_CONTEXT")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not CONTEXT, reason="set APPPROFILE_E2E_CONTEXT to a disposable cluster's context"),
]

PROFILE = """\
name: {name}
version: 1.0.0
tiers:
  - name: cache
    type: redis
    properties: {{volumeSize: 1}}
  - name: app
    type: container
    properties:
      image: registry.k8s.io/pause:3.10
      ports: [8080]
      env:
        - {{name: REDIS_HOST, value: "{{{{.spectro.app.$appDeploymentName.cache.REDISMSTR_SVC}}}}"}}
"""


def test_deploy_and_purge_on_a_real_cluster(tmp_path: Path) -> None:
    name = f"appprofile-e2e-{secrets.token_hex(3)}"
    rig = Rig(tmp_path)
    real = connect.from_kubeconfig("dev-cluster", CONTEXT or "", os.environ.get("KUBECONFIG"))
    rig.executor.connect = lambda n: real
    rig.executor.wait_timeout = 300
    rig.service.create(rig.actor, PROFILE.format(name=name))
    try:
        ticket = rig.service.deploy(rig.actor, DeployRequest(profile=name, cluster="dev-cluster", sets={}))
        rig.wait_idle()
        run = rig.store.get_run(ticket.run_id or 0)
        assert run.status == "succeeded", run.error
        dep = rig.store.get_deployment("dev-cluster", name)
        assert dep is not None and dep.outputs["cache"]["REDISMSTR_SVC"].endswith(".svc.cluster.local")
        # A second deploy of the same version changes nothing and reuses the generated password.
        again = rig.service.deploy(rig.actor, DeployRequest(profile=name, cluster="dev-cluster", sets={}))
        rig.wait_idle()
        assert rig.store.get_run(again.run_id or 0).plan["changes"]
        assert {c["action"] for c in rig.store.get_run(again.run_id or 0).plan["changes"]} == {"unchanged"}
    finally:
        rig.service.delete(rig.actor, name, None, purge=True)
        rig.wait_idle()
    dep = rig.store.get_deployment("dev-cluster", name)
    assert dep is not None and dep.status == "deleted"
    # Namespaces terminate asynchronously and take the PVCs with them; workloads are gone now.
    assert not [r for r in real.list_owned(name) if r.kind in ("Deployment", "StatefulSet", "Service")]
