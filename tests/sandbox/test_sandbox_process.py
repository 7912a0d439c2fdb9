"""`python -m sandbox` as `make run` starts it: one URL line on the terminal, logs in the log
file, and Ctrl-C ends it cleanly."""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from kubernetes import client

from sandbox import run
from sandbox.kube import SimCluster
from sandbox.run import Sandbox
from tests.sandbox.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no URL line within {timeout}s")
    return proc.stdout.readline()


def test_ctrl_c_ends_the_sandbox_with_code_0_and_nothing_on_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--db", str(tmp_path / "sandbox.db")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _first_line(proc, START_TIMEOUT).strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/state?user=U0ALICE", timeout=10) as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert err == ""
    assert out == ""  # the URL was the only line
    # The sandbox's own logging went to the log file beside the db, not to the terminal.
    assert f"sandbox.run INFO sandbox page at {url}" in (tmp_path / "sandbox.log").read_text()


def test_the_simulated_clusters_fail_nopull_images_visibly(sandbox: Sandbox) -> None:
    sim = sandbox.sims["dev-cluster"]
    sim.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}})
    labels = {"app": "bad"}
    container = {"name": "main", "image": "example/bad:nopull"}
    sim.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bad", "namespace": "t"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        }
    )

    def backing_off() -> list[str]:
        reasons = [
            ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            for pod in sim.list_objects("Pod", "t")
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
        ]
        return [r for r in reasons if r in ("ErrImagePull", "ImagePullBackOff")]

    assert eventually(backing_off, "an image pull failure")


def test_the_emulator_access_log_goes_to_the_log_file(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = run.log_to_file(str(tmp_path / "sandbox.log"))
    try:
        with SimCluster() as sim:
            api = sim.api_client()
            client.CoreV1Api(api).list_namespace()
            api.close()
    finally:
        root.removeHandler(handler)
        handler.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    assert '"GET /api/v1/namespaces HTTP/1.1" 200' in (tmp_path / "sandbox.log").read_text()
