"""Wiring: read the environment once, build the adapters, hand them to the use cases.

This and `bot.cli` are the only modules that read the environment.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import catalog_files
from bot.core import plan, policy
from bot.core.errors import UserError
from bot.core.ports import Cluster
from bot.core.readiness import FailFast

DEFAULT_DB = "./data/appprofile.db"
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "APPPROFILE_SECRET_KEY")


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str | None
    port: int
    host: str
    db: str
    config_path: str | None
    kubeconfig: str | None
    helm_bin: str
    wait_timeout: float
    secret_key: str | None = None
    # The namespace the bot itself runs in (never a tier's): set by the Helm chart's downward API.
    bot_namespace: str | None = None
    fail_fast: FailFast = field(default_factory=FailFast)
    # A postgresql:// URL: the store lives there instead of in the SQLite file `db`.
    database_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        port = e.get("PORT", "3000")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise UserError(f"PORT={port!r} is not a TCP port", "set PORT to a number between 1 and 65535")
        return cls(
            bot_token=e.get("SLACK_BOT_TOKEN") or None,
            signing_secret=e.get("SLACK_SIGNING_SECRET") or None,
            app_token=e.get("SLACK_APP_TOKEN") or None,
            api_url=e.get("SLACK_API_URL") or None,
            port=int(port),
            host=e.get("HOST") or "0.0.0.0",  # noqa: S104 - a server in a container listens on all interfaces
            db=e.get("APPPROFILE_DB") or DEFAULT_DB,
            config_path=e.get("APPPROFILE_CONFIG") or None,
            kubeconfig=e.get("KUBECONFIG") or None,
            helm_bin=e.get("HELM_BIN") or _default_helm(),
            wait_timeout=float(e.get("APPPROFILE_WAIT_TIMEOUT") or 600),
            secret_key=e.get("APPPROFILE_SECRET_KEY") or None,
            bot_namespace=e.get("POD_NAMESPACE") or None,
            database_url=e.get("APPPROFILE_DATABASE_URL") or None,
            fail_fast=FailFast(
                image_pull_grace=float(e.get("APPPROFILE_IMAGE_PULL_GRACE") or 20),
                crash_loop_restarts=int(e.get("APPPROFILE_CRASH_LOOP_RESTARTS") or 3),
                unschedulable_grace=float(e.get("APPPROFILE_UNSCHEDULABLE_GRACE") or 60),
                pod_check_interval=float(e.get("APPPROFILE_POD_CHECK_INTERVAL") or 5),
            ),
        )


def _default_helm() -> str:
    beside = Path(sys.executable).parent / "helm"
    return str(beside) if beside.exists() else "helm"


class JsonFormatter(logging.Formatter):
    """JSON lines on stderr; known token values are scrubbed from every line."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("run_id", "incident", "cluster", "deployment", "kind", "command", "user"):
            if key in record.__dict__:
                data[key] = record.__dict__[key]
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        line = json.dumps(data, default=str)
        for s in self._secrets:
            line = line.replace(s, "[redacted]")
        return line


def setup_logging(env: dict[str, str] | None = None) -> None:
    e = os.environ if env is None else env
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter([e.get(k, "") for k in SECRET_ENV]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("APPPROFILE_LOG_LEVEL", "INFO").upper())


def load_config(path: str | None) -> policy.Config:
    if not path:
        return policy.Config()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UserError(f"cannot read APPPROFILE_CONFIG {path}: {exc.strerror}") from None
    return policy.load(text, source=path)


def chart_renderer(helm_bin: str) -> plan.ChartRenderer:
    from bot.kube import helm

    def render_chart(
        chart: str,
        release: str,
        namespace: str,
        version: str | None,
        values: dict[str, Any],
        allowed: tuple[str, ...] = (),
    ) -> str:
        return helm.template(
            chart,
            release=release,
            namespace=namespace,
            version=version,
            values=values,
            helm_bin=helm_bin,
            allowed=allowed,
            env=os.environ,  # helm gets PATH, HOME and HELM_* from here (the adapter reads no env)
        )

    return render_chart


def open_store(settings: Settings) -> Any:
    """The store, with secret values sealed under APPPROFILE_SECRET_KEY; refuses to open a
    database that holds user-given secrets in clear text when no key is set."""
    from bot.store import sealing
    from bot.store.db import store_from_url

    try:
        sealer = sealing.Sealer(settings.secret_key)
    except sealing.SealingError as exc:
        raise UserError(str(exc)) from None
    store = store_from_url(settings.database_url or settings.db, sealer=sealer)
    exposed = store.clear_secrets(catalog_files.load())
    if exposed and not sealer.enabled:
        raise UserError(
            f"{store.path} holds secret values in clear text ({', '.join(exposed[:5])}"
            + (" …" if len(exposed) > 5 else "")
            + ") and APPPROFILE_SECRET_KEY is not set",
            'set APPPROFILE_SECRET_KEY to a Fernet key (python -c "from cryptography.fernet import '
            'Fernet; print(Fernet.generate_key().decode())"); the bot seals them at the next start',
        )
    if exposed:
        store.seal_clear_secrets()
    return store


def build_service(settings: Settings, *, pool: ThreadPoolExecutor | None = None) -> Any:
    from bot.service import Service

    store = open_store(settings)
    return Service(
        store=store,
        catalog=catalog_files.load(),
        config=load_config(settings.config_path),
        charts=chart_renderer(settings.helm_bin),
    )


def cluster_connector(config: policy.Config, kubeconfig: str | None) -> Callable[[str], Cluster]:
    """Connect lazily, once per cluster name; a cluster that is down fails its own deploys only."""
    import threading

    from bot.kube import connect

    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def get(name: str) -> Any:
        with lock:
            if name not in cache:
                cc = config.cluster(name)
                who = (cc.impersonate.user, cc.impersonate.groups) if cc.impersonate else None
                if cc.in_cluster:
                    cache[name] = connect.from_in_cluster(name, identity=who)
                else:
                    cache[name] = connect.from_kubeconfig(name, cc.context or name, kubeconfig, identity=who)
            return cache[name]

    return get


def guard_factory(
    config: policy.Config, connect: Callable[[str], Cluster], bot_namespace: str | None
) -> Callable[[str], plan.Guard]:
    """Per cluster: its guardrails, with scope from its discovery and namespace owners from its API."""

    def guard(name: str) -> plan.Guard:
        cluster = connect(name)
        return plan.Guard(
            rails=config.cluster(name).guardrails,
            scope=cluster.scope,
            owner=cluster.namespace_owner,
            bot_namespace=bot_namespace,
        )

    return guard


def referenced_groups(config: policy.Config) -> set[str]:
    ids: set[str] = set()
    for ids_list in config.access.values():
        ids.update(ids_list)
    for cc in config.clusters.values():
        if cc.approval:
            ids.update(cc.approval.approvers)
    return {i for i in ids if i.startswith("S")}


def build_bot(settings: Settings) -> tuple[Any, Any, Any]:
    """The whole bot: (bolt app, service, executor), resumed and ready to serve."""
    from bot.executor import Executor
    from bot.kube import schema
    from bot.service import Service
    from bot.slack import app as slack_app
    from bot.slack.groups import UsergroupCache
    from bot.slack.progress import SlackReporter

    if not settings.bot_token:
        raise UserError(
            "SLACK_BOT_TOKEN is not set", "create the app from manifest.yml and set its bot token"
        )
    if not settings.signing_secret and not settings.app_token:
        raise UserError(
            "neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set",
            "copy the signing secret from the app's Basic Information page, or create an app-level token",
        )
    config = load_config(settings.config_path)
    store = open_store(settings)
    catalog = catalog_files.load()
    client = slack_app.make_client(settings.bot_token, settings.api_url)
    work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack")
    runs = ThreadPoolExecutor(max_workers=4, thread_name_prefix="run")
    connect = cluster_connector(config, settings.kubeconfig)
    guards = guard_factory(config, connect, settings.bot_namespace)
    service = Service(
        store=store,
        catalog=catalog,
        config=config,
        charts=chart_renderer(settings.helm_bin),
        groups_of=UsergroupCache(client, referenced_groups(config)),
        check=schema.problems,
        guards=guards,
    )
    reporter = SlackReporter(client, store, tally=service.approval_tally)
    executor = Executor(
        store,
        catalog,
        connect,
        service.charts,
        reporter,
        runs,
        wait_timeout=settings.wait_timeout,
        fail_fast=settings.fail_fast,
        guards=guards,
    )
    service.executor = executor
    from slack_bolt.error import BoltError

    try:
        app = slack_app.build_app(
            service, client=client, signing_secret=settings.signing_secret or "socket-mode", executor=work
        )
    except BoltError as exc:
        # Bolt checks the token with auth.test at start-up; say so plainly instead of a traceback.
        raise UserError(
            f"Slack did not accept SLACK_BOT_TOKEN ({str(exc).split('(', 1)[-1].rstrip(')')})",
            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
        ) from None
    return app, service, executor


def start_background(service: Any, executor: Any, stop: Any) -> None:
    """Resume runs left running by a previous process, and expire approvals on time."""
    import threading

    resumed = executor.resume()
    logging.getLogger("appprofile").info("resumed %d deployment queue(s)", resumed)

    def sweep() -> None:
        while not stop.is_set():
            try:
                service.expire_due()
            except Exception:
                logging.getLogger("appprofile").exception("expiring approvals failed")
            stop.wait(5.0)

    threading.Thread(target=sweep, name="approval-expiry", daemon=True).start()


def serve(settings: Settings) -> int:
    import threading

    from bot import metrics
    from bot.slack import serve as slack_serve

    app, service, executor = build_bot(settings)
    stop = threading.Event()
    start_background(service, executor, stop)
    log = logging.getLogger("appprofile")
    registry = metrics.registry(service.store)
    scrape = functools.partial(metrics.render, registry)
    try:
        if settings.app_token:
            log.info("serving in Socket Mode; /healthz and /metrics on port %d", settings.port)
            slack_serve.serve_health(settings.port, settings.host, scrape)
            slack_serve.serve_socket(app, settings.app_token)
        else:
            log.info("serving HTTP on port %d at /slack/events, /healthz and /metrics", settings.port)
            slack_serve.serve_http(app, settings.port, settings.host, scrape)
    finally:
        stop.set()
    return 0
