"""The composition root: every adapter built once, bottom up, and handed to what uses it.

    settings ─▶ store, clock, catalog, config
             ─▶ clusters (connector), charts, guards
             ─▶ reporter (Slack) ─▶ publisher ─▶ run loop (executor) ─▶ use cases (service)
             ─▶ Slack app (listeners call the use cases)

Nothing is patched in after construction. `compose` serves `appprofile serve`, the sandbox and
every test rig (which swap the cluster connector, charts, clock or reporter for their doubles);
`compose_offline` the CLI (the use cases without a run loop or Slack).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot import catalog_files
from bot import clock as clock_mod
from bot.clock import SystemClock
from bot.core import plan, policy, ports
from bot.core.catalog import Catalog
from bot.core.errors import OperatorError
from bot.core.events import Event
from bot.kube import connect as kube_connect
from bot.kube import helm, schema
from bot.publisher import Publisher
from bot.runs.loop import Executor
from bot.settings import ClusterSettings, Settings, SlackSettings, StoreSettings
from bot.slack import app as slack_app
from bot.slack.groups import UsergroupCache
from bot.slack.home import SlackHome
from bot.slack.progress import SlackReporter
from bot.store import sealing
from bot.store.db import Store, store_from_url
from bot.usecases.context import UseCaseContext, no_groups
from bot.usecases.home import Home
from bot.usecases.service import Service


@dataclass(frozen=True)
class Bot:
    settings: Settings
    store: Store
    clock: ports.Clock
    service: Service
    executor: Executor | None  # None: deploys stop at the plan (`deploys=False`)
    publisher: Publisher | None
    client: WebClient | None
    app: App | None  # None without Slack settings (a rig that drives the use cases directly)
    work: ThreadPoolExecutor  # the Slack listeners' background jobs

    def close(self) -> None:
        """Finish what runs (listener jobs, then runs) and close the store's connections."""
        self.work.shutdown(wait=True)
        if self.executor is not None:
            self.executor.pool.shutdown(wait=True)
        self.store.dispose()


def compose(
    settings: Settings,
    *,
    clock: ports.Clock | None = None,
    connect: Callable[[str], ports.Cluster] | None = None,
    charts: plan.ChartRenderer | None = None,
    reporter: ports.Reporter | None = None,
    password: Callable[[], str] | None = None,
    config: policy.Config | None = None,
    deploys: bool = True,
) -> Bot:
    clock = clock or SystemClock()
    catalog = catalog_files.load()
    config = config or load_config(settings.clusters.config_path)
    store = open_store(settings.store, catalog, clock)
    connect = connect or cluster_connector(config, settings.clusters.kubeconfig)
    charts = charts or chart_renderer(settings.clusters)
    # Without a run loop nothing reaches a cluster: the plan is a preview, unguarded.
    guards = guard_factory(config, connect, settings.clusters.bot_namespace) if deploys else None
    client = make_client(settings.slack) if settings.slack.bot_token else None
    groups_of = (
        UsergroupCache(client, referenced_groups(config), ttl=settings.slack.usergroup_ttl)
        if client
        else no_groups
    )
    # Each person's App Home, republished as runs change (none without Slack).
    screen = SlackHome(client, on_failed=store.home_unpublished) if client is not None else None
    publisher = executor = None
    if deploys:
        if reporter is None and client is None:
            raise OperatorError(
                "SLACK_BOT_TOKEN is not set", "create the app from manifest.yml and set its bot token"
            )
        shows = reporter or SlackReporter(client, min_interval=settings.slack.redraw_interval)  # type: ignore[arg-type]
        homes = UseCaseContext(store, catalog, config, charts, clock, groups_of)
        publisher = Publisher(
            store, store, shows, clock, rule=approval_rule(config), after=home_refresher(homes, screen)
        )
        executor = run_loop(settings, store, catalog, connect, charts, publisher, clock, guards, password)
    service = Service(
        store=store,
        catalog=catalog,
        config=config,
        charts=charts,
        clock=clock,
        groups_of=groups_of,
        check=schema.problems,
        guards=guards,
        executor=executor,
        publisher=publisher,
    )
    work = ThreadPoolExecutor(max_workers=settings.slack.workers, thread_name_prefix="slack")
    app = slack_bolt_app(settings.slack, service, client, work, store, screen) if client is not None else None
    return Bot(settings, store, clock, service, executor, publisher, client, app, work)


def run_loop(
    settings: Settings,
    store: Store,
    catalog: Catalog,
    connect: Callable[[str], ports.Cluster],
    charts: plan.ChartRenderer,
    publisher: Publisher,
    clock: ports.Clock,
    guards: Callable[[str], plan.Guard] | None,
    password: Callable[[], str] | None,
) -> Executor:
    """The run loop: runs on their own pool, leased, checked against the schema and guardrails."""
    return Executor(
        store,
        catalog,
        connect,
        charts,
        publisher,
        ThreadPoolExecutor(max_workers=settings.runs.workers, thread_name_prefix="run"),
        clock=clock,
        wait_timeout=settings.runs.wait_timeout,
        fail_fast=settings.runs.fail_fast,
        guards=guards,
        check=schema.problems,
        password=password,
        lease_seconds=settings.runs.lease_seconds,
    )


def compose_offline(settings: Settings) -> Service:
    """The use cases on the store alone: import, export, list, versions (the CLI)."""
    clock = SystemClock()
    catalog = catalog_files.load()
    return Service(
        store=open_store(settings.store, catalog, clock),
        catalog=catalog,
        config=load_config(settings.clusters.config_path),
        charts=chart_renderer(settings.clusters),
        clock=clock,
    )


def make_client(slack: SlackSettings) -> WebClient:
    return slack_app.make_client(str(slack.bot_token), slack.api_url)


def slack_bolt_app(
    slack: SlackSettings,
    service: Service,
    client: WebClient,
    work: ThreadPoolExecutor,
    seen: Store,
    screen: ports.HomeScreen | None = None,
) -> App:
    if not slack.signing_secret and not slack.app_token:
        raise OperatorError(
            "neither SLACK_SIGNING_SECRET (HTTP mode) nor SLACK_APP_TOKEN (Socket Mode) is set",
            "copy the signing secret from the app's Basic Information page, or create an app-level token",
        )
    # build_app maps a token Slack refuses (auth.test at start-up) to an OperatorError.
    return slack_app.build_app(
        service,
        client=client,
        signing_secret=slack.signing_secret or "socket-mode",
        executor=work,
        seen=seen,  # in the store: a replay reaching another replica is refused there too
        home_screen=screen,
    )


def home_refresher(homes: UseCaseContext, screen: ports.HomeScreen | None) -> Callable[[Event], None] | None:
    """What the publisher runs after each event: the App Homes it changed, onto the Home tab."""
    if screen is None:
        return None
    home = Home(homes)
    return lambda event: home.show_changes(event, screen)


def load_config(path: str | None) -> policy.Config:
    if not path:
        return policy.Config()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise OperatorError(f"cannot read APPPROFILE_CONFIG {path}: {exc.strerror}") from None
    return policy.load(text, source=path, known_timezone=clock_mod.known_timezone)


def open_store(settings: StoreSettings, catalog: Catalog, clock: ports.Clock) -> Store:
    """The store, with secret values sealed under APPPROFILE_SECRET_KEY; refuses to open a
    database that holds user-given secrets in clear text when no key is set."""
    try:
        sealer = sealing.Sealer(settings.secret_key)
    except sealing.SealingError as exc:
        raise OperatorError(str(exc)) from None
    store = store_from_url(settings.location, sealer=sealer, now=clock.now)
    exposed = store.clear_secrets(catalog)
    if exposed and not sealer.enabled:
        raise OperatorError(
            f"{store.path} holds secret values in clear text ({', '.join(exposed[:5])}"
            + (" …" if len(exposed) > 5 else "")
            + ") and APPPROFILE_SECRET_KEY is not set",
            'set APPPROFILE_SECRET_KEY to a Fernet key (python -c "from cryptography.fernet import '
            'Fernet; print(Fernet.generate_key().decode())"); the bot seals them at the next start',
        )
    if exposed:
        store.seal_clear_secrets()
    return store


def chart_renderer(clusters: ClusterSettings) -> plan.ChartRenderer:
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
            helm_bin=clusters.helm_bin,
            allowed=allowed,
            env=dict(clusters.helm_env),
        )

    return render_chart


def cluster_connector(config: policy.Config, kubeconfig: str | None) -> Callable[[str], ports.Cluster]:
    """Connect lazily, once per cluster name; a cluster that is down fails its own deploys only."""
    cache: dict[str, ports.Cluster] = {}
    lock = threading.Lock()

    def get(name: str) -> ports.Cluster:
        with lock:
            if name not in cache:
                cc = config.cluster(name)
                who = (cc.impersonate.user, cc.impersonate.groups) if cc.impersonate else None
                if cc.in_cluster:
                    cache[name] = kube_connect.from_in_cluster(name, identity=who)
                else:
                    cache[name] = kube_connect.from_kubeconfig(
                        name, cc.context or name, kubeconfig, identity=who
                    )
            return cache[name]

    return get


def guard_factory(
    config: policy.Config, connect: Callable[[str], ports.Cluster], bot_namespace: str | None
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


def approval_rule(config: policy.Config) -> Callable[[str], policy.Approval | None]:
    def rule(cluster: str) -> policy.Approval | None:
        cc = config.clusters.get(cluster)
        return cc.approval if cc is not None else None

    return rule


def referenced_groups(config: policy.Config) -> set[str]:
    ids: set[str] = set()
    for ids_list in config.access.values():
        ids.update(ids_list)
    for cc in config.clusters.values():
        if cc.approval:
            ids.update(cc.approval.approvers)
    return {i for i in ids if i.startswith("S")}
