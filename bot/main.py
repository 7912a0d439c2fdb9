"""Wiring: read the environment once, build the adapters, hand them to the use cases.

This and `bot.cli` are the only modules that read the environment.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import catalog_files
from bot.core import plan, policy
from bot.core.errors import UserError

DEFAULT_DB = "./data/appprofile.db"
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str | None
    port: int
    db: str
    config_path: str | None
    kubeconfig: str | None
    helm_bin: str
    wait_timeout: float

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
            db=e.get("APPPROFILE_DB") or DEFAULT_DB,
            config_path=e.get("APPPROFILE_CONFIG") or None,
            kubeconfig=e.get("KUBECONFIG") or None,
            helm_bin=e.get("HELM_BIN") or _default_helm(),
            wait_timeout=float(e.get("APPPROFILE_WAIT_TIMEOUT") or 600),
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

    def render_chart(chart: str, release: str, namespace: str, version: str | None, values: dict[str, Any]) -> str:
        return helm.template(chart, release=release, namespace=namespace, version=version, values=values, helm_bin=helm_bin)

    return render_chart


def build_service(settings: Settings, *, pool: ThreadPoolExecutor | None = None) -> Any:
    from bot.service import Service
    from bot.store.db import Store

    store = Store(settings.db)
    return Service(
        store=store,
        catalog=catalog_files.load(),
        config=load_config(settings.config_path),
        charts=chart_renderer(settings.helm_bin),
    )
