"""The one `Service` the adapters (Slack, the CLI) hold: the use cases composed over one context,
each method handed to the use case that owns it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.core import plan, policy, ports
from bot.core.catalog import Catalog, ServiceType
from bot.core.commands import DeployRequest
from bot.core.home import HomeView
from bot.core.records import Actor, AuditEntry, Deployment, ProfileSummary, Run, RunKind, VersionRecord
from bot.core.tickets import DeployTicket
from bot.usecases.approvals import Approvals
from bot.usecases.context import UseCaseContext, no_groups
from bot.usecases.deletes import Deletes, DeleteTarget
from bot.usecases.deploys import Deploys
from bot.usecases.drifts import Checked, Drifts
from bot.usecases.home import Home
from bot.usecases.logs import DEFAULT_LINES, Logs, LogsAnswer
from bot.usecases.profiles import Profiles
from bot.usecases.promotions import Promotions
from bot.usecases.queries import DeploymentView, Queries

if TYPE_CHECKING:
    from bot.publisher import Publisher
    from bot.runs.loop import Executor


class Service:
    def __init__(
        self,
        store: ports.Repositories,
        catalog: Catalog,
        config: policy.Config,
        charts: plan.ChartRenderer,
        clock: ports.Clock,
        groups_of: Callable[[str], set[str]] = no_groups,
        executor: Executor | None = None,
        publisher: Publisher | None = None,
        check: plan.SchemaCheck | None = None,
        guards: Callable[[str], plan.Guard] | None = None,
    ) -> None:
        ctx = UseCaseContext(
            store, catalog, config, charts, clock, groups_of, executor, publisher, check, guards
        )
        self.context = ctx
        self.profiles = Profiles(ctx)
        self.deploys = Deploys(ctx)
        self.deletes = Deletes(ctx, self.profiles, self.deploys)
        self.promotions = Promotions(ctx, self.deploys)
        self.approvals = Approvals(ctx)
        self.drifts = Drifts(ctx, self.deploys)
        self.queries = Queries(ctx, self.drifts)
        self.log_reader = Logs(ctx)

    @property
    def store(self) -> ports.Repositories:
        return self.context.store

    @property
    def catalog(self) -> Catalog:
        return self.context.catalog

    # -- profiles --------------------------------------------------------------------------

    def list_profiles(self) -> list[ProfileSummary]:
        return self.profiles.list_profiles()

    def show(self, actor: Actor, name: str | None, version: str | None) -> VersionRecord:
        return self.profiles.show(actor, name, version)

    def versions(self, actor: Actor, name: str | None) -> list[VersionRecord]:
        return self.profiles.versions(actor, name)

    def profile_versions(self, name: str) -> int:
        return self.profiles.profile_versions(name)

    def use(self, actor: Actor, name: str) -> VersionRecord:
        return self.profiles.use(actor, name)

    def current(self, actor: Actor) -> str | None:
        return self.profiles.current(actor)

    def diff(self, actor: Actor, name: str, v1: str, v2: str) -> str:
        return self.profiles.diff(actor, name, v1, v2)

    def export(self, actor: Actor, name: str, version: str | None) -> str:
        return self.profiles.export(actor, name, version)

    def create(
        self,
        actor: Actor,
        yaml_text: str,
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> VersionRecord:
        return self.profiles.create(
            actor, yaml_text, name=name, version=version, description=description, tags=tags
        )

    def import_yaml(self, actor: Actor, yaml_text: str) -> VersionRecord:
        return self.profiles.import_yaml(actor, yaml_text)

    def may_version(self, actor: Actor, name: str, version: str) -> None:
        self.profiles.may_version(actor, name, version)

    def new_version(
        self,
        actor: Actor,
        name: str | None,
        version: str,
        *,
        yaml_text: str | None = None,
        from_version: str | None = None,
    ) -> VersionRecord:
        return self.profiles.new_version(actor, name, version, yaml_text=yaml_text, from_version=from_version)

    def clone(
        self,
        actor: Actor,
        source: str | None,
        source_version: str | None,
        new_name: str,
        *,
        new_version: str | None = None,
    ) -> VersionRecord:
        return self.profiles.clone(actor, source, source_version, new_name, new_version=new_version)

    # -- deleting --------------------------------------------------------------------------

    def delete_targets(
        self,
        actor: Actor,
        name: str,
        version: str | None,
        cluster: str | None,
        *,
        purge: bool = False,
        override_window: bool = False,
    ) -> list[DeleteTarget]:
        return self.deletes.delete_targets(
            actor, name, version, cluster, purge=purge, override_window=override_window
        )

    def describe_delete(self, actor: Actor, target: DeleteTarget) -> str:
        return self.deletes.describe_delete(actor, target)

    def delete(
        self,
        actor: Actor,
        name: str,
        version: str | None,
        *,
        purge: bool = False,
        cluster: str | None = None,
        override_window: bool = False,
    ) -> str:
        return self.deletes.delete(
            actor, name, version, purge=purge, cluster=cluster, override_window=override_window
        )

    def delete_target(self, actor: Actor, target: DeleteTarget) -> str:
        return self.deletes.delete_target(actor, target)

    def delete_deployment(
        self,
        actor: Actor,
        name: str,
        cluster: str | None,
        *,
        purge: bool = False,
        override_window: bool = False,
    ) -> str:
        return self.deploys.delete_deployment(
            actor, name, cluster, purge=purge, override_window=override_window
        )

    # -- deploying -------------------------------------------------------------------------

    def preview(self, actor: Actor, req: DeployRequest) -> tuple[VersionRecord, plan.Plan]:
        return self.deploys.preview(actor, req)

    def deploy(self, actor: Actor, req: DeployRequest, *, kind: RunKind = "deploy") -> DeployTicket:
        return self.deploys.deploy(actor, req, kind=kind)

    def retry(self, actor: Actor, run_id: int, *, rollback: bool = False) -> DeployTicket:
        return self.deploys.retry(actor, run_id, rollback=rollback)

    def upgrade(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        return self.deploys.upgrade(actor, cluster, name)

    def revert(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        return self.drifts.revert(actor, cluster, name)

    def check_drift(self, dep: Deployment) -> Checked:
        return self.drifts.check(dep)

    def sweep_drift(self) -> int:
        return self.drifts.sweep()

    def promote(
        self,
        actor: Actor,
        name: str,
        from_cluster: str,
        to_cluster: str,
        *,
        new_name: str | None = None,
        override_window: bool = False,
    ) -> DeployTicket:
        return self.promotions.promote(
            actor, name, from_cluster, to_cluster, new_name=new_name, override_window=override_window
        )

    # -- approvals -------------------------------------------------------------------------

    def approval_tally(self, run: Run) -> tuple[list[str], int]:
        return self.approvals.approval_tally(run)

    def decide(self, actor: Actor, run_id: int, decision: str, card_fingerprint: str) -> str:
        return self.approvals.decide(actor, run_id, decision, card_fingerprint)

    def expire_due(self) -> list[int]:
        return self.approvals.expire_due()

    # -- reading ---------------------------------------------------------------------------

    def help_text(self) -> str:
        return self.queries.help_text()

    def run(self, run_id: int) -> Run:
        return self.queries.run(run_id)

    def service_types(self) -> list[ServiceType]:
        return self.queries.service_types()

    def service_type(self, name: str) -> ServiceType:
        return self.queries.service_type(name)

    def deployments(self, actor: Actor) -> list[DeploymentView]:
        return self.queries.deployments(actor)

    def status(self, actor: Actor, name: str | None, cluster: str | None = None) -> list[DeploymentView]:
        return self.queries.status(actor, name, cluster)

    def update_available(self, dep: Deployment) -> str | None:
        return self.queries.update_available(dep)

    def outputs(self, actor: Actor, name: str, cluster: str | None = None) -> Deployment:
        return self.queries.outputs(actor, name, cluster)

    def audit(
        self, actor: Actor, limit: int, profile: str | None, cluster: str | None, *, offset: int = 0
    ) -> list[AuditEntry]:
        return self.queries.audit(actor, limit, profile, cluster, offset=offset)

    def logs(
        self,
        actor: Actor,
        name: str,
        tier: str,
        cluster: str | None = None,
        lines: int = DEFAULT_LINES,
        *,
        run_id: int | None = None,
    ) -> LogsAnswer:
        return self.log_reader.tier_logs(actor, name, tier, cluster, lines, run_id=run_id)

    # -- the App Home ----------------------------------------------------------------------

    def open_home(self, actor_user: str) -> HomeView:
        """The person opened their Home tab: the view to publish to them now."""
        return Home(self.context).opened(actor_user)

    def home_view(self, user: str) -> HomeView:
        return Home(self.context).view(user)

    def home_clicked(self, user: str) -> HomeView | None:
        """After a click on the person's Home: their view, if it changed since it was published."""
        return Home(self.context).clicked(user)

    def upgrade_from_home(self, actor: Actor, cluster: str, name: str) -> DeployTicket:
        """The Upgrade button on the Home tab: an upgrade asked in the deployment's channel."""
        return self.deploys.upgrade(Home(self.context).upgrade_actor(actor, cluster, name), cluster, name)
