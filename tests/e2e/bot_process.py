"""`appprofile serve` as a real subprocess in HTTP mode, wired to a fake Slack and the emulator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import yaml

from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack
from tests import secret_key

SECRET = "e2e-signing-secret-0123456789"
TOKEN = "xoxb-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_kubeconfig(path: Path, clusters: dict[str, SimCluster]) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": c.url}} for n, c in clusters.items()],
        "users": [{"name": "e2e", "user": {"token": "kube-token-not-secret"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "e2e"}} for n in clusters],
        "current-context": next(iter(clusters)),
    }
    path.write_text(yaml.safe_dump(doc))


class BotProcess:
    def __init__(
        self,
        tmp: Path,
        fake: FakeSlack,
        clusters: dict[str, SimCluster],
        config: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        (tmp / "kubeconfig").parent.mkdir(parents=True, exist_ok=True)
        write_kubeconfig(tmp / "kubeconfig", clusters)
        (tmp / "appprofile.yaml").write_text(config)
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.base_url,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "APPPROFILE_DB": str(tmp / "data" / "appprofile.db"),
            "APPPROFILE_CONFIG": str(tmp / "appprofile.yaml"),
            "KUBECONFIG": str(tmp / "kubeconfig"),
            "APPPROFILE_WAIT_TIMEOUT": "60",
            "APPPROFILE_SECRET_KEY": secret_key.KEY,
        }
        self.env.update(env or {})
        if os.environ.get("HELM_BIN"):
            self.env["HELM_BIN"] = os.environ["HELM_BIN"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self._out: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self, timeout: float = 30.0) -> BotProcess:
        log = self.tmp / f"bot-{len(self.logs)}.log"
        self.logs.append(log)
        self._close_log()
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=self.env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"the bot did not answer /healthz in {timeout}s:\n{self.log_text()}")

    def _close_log(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())
