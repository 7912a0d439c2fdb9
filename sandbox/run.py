"""`python -m sandbox` (what `make run` starts without a Slack token): the product on one machine, with no Slack workspace and no cluster.

Starts the fake Slack Web API, two simulated clusters (or, with KUBECONFIG set, nothing: the
kubeconfig's contexts are used), writes a kubeconfig and an APPPROFILE_CONFIG for them, preloads
the example profiles, runs the real bot unchanged as a subprocess in HTTP mode against all that,
and serves the channel page. Everything listens on 127.0.0.1 except the bot itself, which binds
the address `appprofile serve` always binds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot import catalog_files
from bot.core import model
from bot.core.errors import Conflict, UserError
from sandbox.channel import CHANNEL, USERS, Channel
from sandbox.kube import SimCluster
from sandbox.slack_api import FakeSlack

DEFAULT_DB = "./data/sandbox.db"
EXAMPLES = catalog_files.default_root() / "examples"
SIMULATED = {"dev-cluster": "sim-dev", "prod": "sim-prod"}
READY_AFTER = 1.5
HEALTH_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_kubeconfig(servers: dict[str, str]) -> dict[str, Any]:
    """A kubeconfig with one context per simulated cluster (context name → server URL)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": ctx, "cluster": {"server": url}} for ctx, url in servers.items()],
        # The emulator does not authenticate; the client still wants a user entry.
        "users": [{"name": "sandbox", "user": {"token": "sandbox-not-a-secret"}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": "sandbox"}} for ctx in servers],
        "current-context": next(iter(servers)),
    }


def sim_config() -> dict[str, Any]:
    return {
        "clusters": {
            "dev-cluster": {"context": SIMULATED["dev-cluster"]},
            "prod": {
                "context": SIMULATED["prod"],
                "approval": {
                    "required": 1,
                    "approvers": list(USERS),
                    "self_approval": False,
                    "expires_after": "1h",
                },
            },
        }
    }


def cluster_name(context: str) -> str:
    """A kubeconfig context name as a cluster name (a DNS label)."""
    name = re.sub(r"[^a-z0-9-]+", "-", context.lower()).strip("-")[:63].strip("-")
    return name or "cluster"


def real_config(kubeconfig: str) -> dict[str, Any]:
    """Every context of the user's kubeconfig as a cluster without approval."""
    try:
        data = yaml.safe_load(Path(kubeconfig.split(os.pathsep)[0]).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(
            f"cannot read KUBECONFIG {kubeconfig}: {type(exc).__name__}",
            "unset KUBECONFIG to use simulated clusters",
        ) from None
    contexts = [str(c.get("name")) for c in data.get("contexts") or [] if isinstance(c, dict)]
    if not contexts:
        raise UserError(
            f"KUBECONFIG {kubeconfig} has no contexts", "unset KUBECONFIG to use simulated clusters"
        )
    clusters: dict[str, Any] = {}
    for ctx in contexts:
        clusters.setdefault(cluster_name(ctx), {"context": ctx})
    return {"clusters": clusters}


def preload(db: str) -> list[str]:
    """Import the example profiles into the store; ones already there are left as they are."""
    from bot.store.db import Store

    store = Store(db)
    loaded = []
    try:
        for path in sorted(EXAMPLES.glob("*.yaml")):
            profile = model.from_yaml(path.read_text())
            with contextlib.suppress(Conflict):  # already there from an earlier run
                store.create_version(profile, actor="sandbox", channel=CHANNEL, kind="import")
            loaded.append(profile.ref)
    finally:
        store.close()
    return loaded


def forget_simulated(db: str, clusters: list[str]) -> int:
    """Simulated clusters start empty every time: forget what an earlier sandbox deployed there,
    so `status` does not show deployments whose objects no longer exist. Returns how many."""
    from bot.store.db import Store

    store = Store(db)
    try:
        for run in store.runs_with_status("queued", "running", "awaiting_approval"):
            if run.cluster in clusters:
                store.update_run(run.id, status="cancelled")
        gone = [d for d in store.list_deployments() if d.cluster in clusters and d.status != "deleted"]
        for dep in gone:
            store.update_deployment(dep.id, status="deleted", inventory=[], outputs={})
        return len(gone)
    finally:
        store.close()


def secret_key(db: str) -> str:
    """The Fernet key that seals the sandbox db's secret values, kept beside the db (mode 0600)
    so the next sandbox on the same db can still open them."""
    from cryptography.fernet import Fernet

    path = Path(db).with_suffix(".key")
    if path.exists():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


class Sandbox:
    """The whole sandbox; `start()` returns once the page answers, `stop()` ends everything."""

    def __init__(
        self,
        *,
        port: int = 0,
        db: str = DEFAULT_DB,
        kubeconfig: str | None = None,
        ready_after: float = READY_AFTER,
        log_path: str | None = None,
        signing_secret: str | None = None,
        env: Mapping[str, str] | None = None,
        cluster_config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        # Extra APPPROFILE_CONFIG keys per cluster, merged over the generated ones (for example
        # `{"prod": {"windows": [{"deny": "Fri 16:00 - Mon 08:00"}]}, "dev-cluster": {"drift_check": "1m"}}`).
        self.cluster_config = {name: dict(extra) for name, extra in (cluster_config or {}).items()}
        # The environment the bot subprocess inherits (PATH, HELM_BIN, …); the entry point reads it.
        self.env = dict(env or {})
        self.port = port
        self.db = db
        self.kubeconfig = kubeconfig
        self.ready_after = ready_after
        self.log_path = log_path or str(Path(db).with_suffix(".log"))
        self.signing_secret = signing_secret or secrets.token_hex(16)
        self.fake: FakeSlack | None = None
        self.sims: dict[str, SimCluster] = {}
        self.channel: Channel | None = None
        self.bot: subprocess.Popen[bytes] | None = None
        self.bot_port = 0
        self.clusters: list[str] = []
        self._tmp: str | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        if self.channel is None:
            raise RuntimeError("the sandbox is not started")
        return self.channel.url

    def start(self) -> Sandbox:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="appprofile-sandbox-")
        Path(self.db).parent.mkdir(parents=True, exist_ok=True)
        self.fake = FakeSlack(bot_token="xoxb-sandbox-" + secrets.token_hex(8)).start()
        if self.kubeconfig:
            kubeconfig = self.kubeconfig
            config = real_config(kubeconfig)
        else:
            for name in SIMULATED:
                self.sims[name] = SimCluster(controllers=True, ready_after=self.ready_after).start()
            kubeconfig = str(Path(self._tmp, "kubeconfig"))
            servers = {ctx: self.sims[name].url for name, ctx in SIMULATED.items()}
            Path(kubeconfig).write_text(yaml.safe_dump(sim_kubeconfig(servers), sort_keys=False))
            config = sim_config()
        for name, extra in self.cluster_config.items():
            if name not in config["clusters"]:
                raise UserError(
                    f"cluster_config names `{name}`, not a sandbox cluster",
                    f"one of {list(config['clusters'])}",
                )
            config["clusters"][name].update(extra)
        self.clusters = list(config["clusters"])
        config_path = Path(self._tmp, "appprofile.yaml")
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        preload(self.db)
        if self.sims:
            forget_simulated(self.db, list(self.sims))
        self.bot_port = free_port()
        env = {
            **self.env,
            "SLACK_BOT_TOKEN": self.fake.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": self.fake.base_url,
            "PORT": str(self.bot_port),
            "HOST": "127.0.0.1",
            "APPPROFILE_DB": self.db,
            "APPPROFILE_CONFIG": str(config_path),
            "KUBECONFIG": kubeconfig,
            # The bot refuses a db with unsealed secret values and no key; the examples have some.
            "APPPROFILE_SECRET_KEY": self.env.get("APPPROFILE_SECRET_KEY") or secret_key(self.db),
        }
        env.pop("SLACK_APP_TOKEN", None)  # HTTP mode: the page posts to the bot
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.bot = subprocess.Popen(
            # The bot exactly as `appprofile serve` runs it, with this interpreter.
            [sys.executable, "-c", "from bot.cli import entry; entry()", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            # Its own session: Ctrl-C in the terminal reaches the sandbox only, which then stops
            # the bot in order (a bot killed by the same SIGINT looked like a crash).
            start_new_session=True,
        )
        self._wait_healthy()
        self.channel = Channel(
            self.fake,
            bot_url=f"http://127.0.0.1:{self.bot_port}",
            signing_secret=self.signing_secret,
            clusters=self.clusters,
            simulated=not self.kubeconfig,
            port=self.port,
        ).start()

    def _wait_healthy(self) -> None:
        assert self.bot is not None
        deadline = time.monotonic() + HEALTH_TIMEOUT
        url = f"http://127.0.0.1:{self.bot_port}/healthz"
        while time.monotonic() < deadline:
            if self.bot.poll() is not None:
                raise RuntimeError(
                    f"the bot exited with code {self.bot.returncode} while starting; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the bot did not answer {url} within {HEALTH_TIMEOUT:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.stop()
            self.channel = None
        if self.bot is not None:
            if self.bot.poll() is None:
                self.bot.terminate()
                try:
                    self.bot.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.bot.kill()
                    self.bot.wait(timeout=5)
            self.bot = None
        if self._log is not None:
            self._log.close()
            self._log = None
        for sim in self.sims.values():
            sim.stop()
        self.sims = {}
        if self.fake is not None:
            self.fake.stop()
            self.fake = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def log_to_file(path: str) -> logging.Handler:
    """Send this process's logging (the emulators' and aiohttp's access and error logs included)
    to `path`, so the terminal shows only the URL line."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return handler


def main(
    port: int = 0, db: str = DEFAULT_DB, kubeconfig: str | None = None, env: Mapping[str, str] | None = None
) -> int:
    """Run until Ctrl-C or SIGTERM; print the page's URL as the only line on stdout."""
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sandbox = Sandbox(port=port, db=db, kubeconfig=kubeconfig, env=env)
    log_to_file(sandbox.log_path)
    try:
        try:
            sandbox.start()
        except (RuntimeError, UserError, OSError) as exc:
            logging.getLogger(__name__).exception("the sandbox did not start")
            print(f"error: the sandbox did not start: {exc}", file=sys.stderr)
            return 1
        logging.getLogger(__name__).info("sandbox page at %s, clusters %s", sandbox.url, sandbox.clusters)
        print(sandbox.url, flush=True)
        while not done.wait(1.0):
            if sandbox.bot is not None and sandbox.bot.poll() is not None:
                print(
                    f"error: the bot stopped (code {sandbox.bot.returncode}); see {sandbox.log_path}",
                    file=sys.stderr,
                )
                return 1
    finally:
        sandbox.stop()
    return 0
