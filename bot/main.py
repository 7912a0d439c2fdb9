"""The server's entry point: read the environment once, compose the bot, serve it.

This and `bot.cli` are the only modules that read the environment (import-linter keeps it so).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from bot import compose as composition
from bot import metrics
from bot.compose import Bot
from bot.settings import SECRET_ENV, Settings
from bot.slack import serve as slack_serve


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


def start_background(bot: Bot, stop: threading.Event) -> None:
    """Resume runs left running by a previous process, expire approvals on time, and check
    drift on the clusters that ask for it."""
    executor = bot.executor
    assert executor is not None  # a served bot always runs deploys
    # A SQLite file serves one process: what it left running is this process's to finish now.
    resumed = executor.resume(alone=bot.store.dialect == "sqlite")
    logging.getLogger("appprofile").info("replica %s resumed %d deployment queue(s)", executor.owner, resumed)
    interval = min(5.0, executor.lease_seconds / 3)

    def sweep() -> None:
        while not stop.is_set():
            try:
                with bot.store.singleton("approval-expiry") as mine:
                    if mine:  # one replica expires approvals (and redraws their cards)
                        bot.service.expire_due()
                with bot.store.singleton("drift-check") as mine:
                    if mine:  # one replica at a time checks drift (`drift_check` per cluster)
                        bot.service.sweep_drift()
                executor.sweep()  # every replica may take over a dead one's runs
            except Exception:
                logging.getLogger("appprofile").exception("the background sweep failed")
            stop.wait(interval)

    threading.Thread(target=sweep, name="approval-expiry", daemon=True).start()


def serve(settings: Settings) -> int:
    bot = composition.compose(settings)
    assert bot.app is not None  # compose refuses to build without Slack settings
    stop = threading.Event()
    start_background(bot, stop)
    log = logging.getLogger("appprofile")
    scrape = functools.partial(metrics.render, metrics.registry(bot.store))
    port, host = settings.server.port, settings.server.host
    try:
        if settings.slack.app_token:
            log.info("serving in Socket Mode; /healthz and /metrics on port %d", port)
            slack_serve.serve_health(port, host, scrape)
            slack_serve.serve_socket(bot.app, settings.slack.app_token)
        else:
            log.info("serving HTTP on port %d at /slack/events, /healthz and /metrics", port)
            slack_serve.serve_http(bot.app, port, host, scrape)
    finally:
        stop.set()
    return 0


def settings_from_env() -> Settings:
    return Settings.from_env(os.environ)
