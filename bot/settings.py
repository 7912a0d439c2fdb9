"""Settings, grouped by what they configure, read from the environment by the entry points only
(`Settings.from_env(os.environ)` in `bot.main` and `bot.cli`); everything else receives them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.errors import UserError
from bot.core.readiness import FailFast

DEFAULT_DB = "./data/appprofile.db"
SECRET_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "APPPROFILE_SECRET_KEY")
# What helm itself needs from the environment (its caches, plugins, registries' credentials).
HELM_ENV = (
    *("PATH", "HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR"),
    *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
)


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str | None = None
    signing_secret: str | None = None  # HTTP mode
    app_token: str | None = None  # Socket Mode
    api_url: str | None = None  # a fake Slack Web API (the sandbox, tests)
    # At most one progress redraw per run per interval (Slack's Tier 3 limit: ~50/min per method).
    redraw_interval: float = 1.0
    # How long a user's usergroup membership is trusted before Slack is asked again.
    usergroup_ttl: float = 300.0
    workers: int = 8  # threads for the listeners' work after each ack


@dataclass(frozen=True)
class ServerSettings:
    port: int = 3000
    host: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all interfaces


@dataclass(frozen=True)
class StoreSettings:
    db: str = DEFAULT_DB  # the SQLite file (APPPROFILE_DB)
    database_url: str | None = None  # postgresql://… (APPPROFILE_DATABASE_URL): used instead of `db`
    secret_key: str | None = None

    @property
    def location(self) -> str:
        """Where the store lives: the PostgreSQL URL if one is set, else the SQLite file."""
        return self.database_url or self.db


@dataclass(frozen=True)
class ClusterSettings:
    config_path: str | None = None
    kubeconfig: str | None = None
    helm_bin: str = "helm"
    helm_env: Mapping[str, str] = field(default_factory=dict)
    # The namespace the bot itself runs in (never a tier's): set by the Helm chart's downward API.
    bot_namespace: str | None = None


@dataclass(frozen=True)
class RunSettings:
    wait_timeout: float = 600.0
    fail_fast: FailFast = field(default_factory=FailFast)
    workers: int = 4
    # A replica that stops renewing its runs' leases for this long has them taken over.
    lease_seconds: float = 30.0


@dataclass(frozen=True)
class Settings:
    slack: SlackSettings = field(default_factory=SlackSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    clusters: ClusterSettings = field(default_factory=ClusterSettings)
    runs: RunSettings = field(default_factory=RunSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        e = dict(env)
        return cls(
            slack=SlackSettings(
                bot_token=e.get("SLACK_BOT_TOKEN") or None,
                signing_secret=e.get("SLACK_SIGNING_SECRET") or None,
                app_token=e.get("SLACK_APP_TOKEN") or None,
                api_url=e.get("SLACK_API_URL") or None,
            ),
            server=ServerSettings(port=_port(e.get("PORT", "3000")), host=e.get("HOST") or "0.0.0.0"),  # noqa: S104
            store=StoreSettings(
                db=e.get("APPPROFILE_DB") or DEFAULT_DB,
                database_url=e.get("APPPROFILE_DATABASE_URL") or None,
                secret_key=e.get("APPPROFILE_SECRET_KEY") or None,
            ),
            clusters=ClusterSettings(
                config_path=e.get("APPPROFILE_CONFIG") or None,
                kubeconfig=e.get("KUBECONFIG") or None,
                helm_bin=e.get("HELM_BIN") or default_helm(),
                helm_env={k: v for k, v in e.items() if k in HELM_ENV or k.startswith("HELM_")},
                bot_namespace=e.get("POD_NAMESPACE") or None,
            ),
            runs=RunSettings(
                wait_timeout=_number(e, "APPPROFILE_WAIT_TIMEOUT", 600),
                fail_fast=FailFast(
                    image_pull_grace=_number(e, "APPPROFILE_IMAGE_PULL_GRACE", 20),
                    crash_loop_restarts=int(_number(e, "APPPROFILE_CRASH_LOOP_RESTARTS", 3)),
                    unschedulable_grace=_number(e, "APPPROFILE_UNSCHEDULABLE_GRACE", 60),
                    pod_check_interval=_number(e, "APPPROFILE_POD_CHECK_INTERVAL", 5),
                ),
                lease_seconds=_number(e, "APPPROFILE_LEASE_SECONDS", 30),
            ),
        )


def default_helm() -> str:
    beside = Path(sys.executable).parent / "helm"
    return str(beside) if beside.exists() else "helm"


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UserError(f"PORT={value!r} is not a TCP port", "set PORT to a number between 1 and 65535")
    return int(value)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name) or ""
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise UserError(
            f"{name}={raw!r} is not a number of seconds (or a count)", f"set {name} to e.g. {default:g}"
        )
    return value
