"""What `delete` names (a profile, one version of it, or a deployment on a cluster), said before
the person confirms it, then carried out by the profiles or the deploys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core import windows
from bot.core.records import Actor, Deployment
from bot.usecases.access import authorise, check_window
from bot.usecases.context import UseCaseContext
from bot.usecases.deploys import Deploys
from bot.usecases.lookup import deployment_on, live, norm, several
from bot.usecases.profiles import Profiles

DeleteKind = Literal["profile", "version", "deployment"]


class DeleteTarget(BaseModel):
    """One thing `delete` can remove: a profile, one version of it, or a deployment on a cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DeleteKind
    name: str
    version: str | None = None
    cluster: str | None = None
    purge: bool = False
    # `delete NAME from CLUSTER --override-window`: a teardown inside a change window.
    override_window: bool = False


@dataclass(frozen=True)
class Deletes:
    ctx: UseCaseContext
    profiles: Profiles
    deploys: Deploys

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
        """What `delete` names: one target to confirm, or several to choose between.
        `override_window` goes with the deployments only (profiles live on no cluster)."""
        store = self.ctx.store
        if version is not None:
            rec = store.get_version(name, norm(version))
            return [DeleteTarget(kind="version", name=name, version=rec.version)]
        flags = {"purge": purge, "override_window": override_window}
        if cluster is not None:
            dep = deployment_on(self.ctx, name, cluster, "delete")
            return [DeleteTarget(kind="deployment", name=name, cluster=dep.cluster, **flags)]
        found = live(self.ctx, name)
        is_profile = store.latest_version(name) is not None
        if not is_profile and len(found) > 1:
            raise several(name, found, "delete")
        targets = [DeleteTarget(kind="deployment", name=name, cluster=d.cluster, **flags) for d in found]
        if is_profile or not found:
            store.get_version(name)  # neither a profile nor a deployment: NotFound
            targets.append(DeleteTarget(kind="profile", name=name))
        return targets

    def describe_delete(self, actor: Actor, target: DeleteTarget) -> str:
        """What deleting `target` would do, said before the person confirms it."""
        if target.kind == "deployment":
            dep = deployment_on(self.ctx, target.name, target.cluster, "delete")
            # Inside a change window without `--override-window` the confirmation is refused at
            # once (and again on the click, should a window close in between).
            block = check_window(
                self.ctx, actor, dep.cluster, "delete", dep.ref, override=target.override_window
            )
            return self._describe_teardown(dep, target, block)
        if target.kind == "version":
            rec = self.ctx.store.get_version(target.name, target.version)
            return f"This deletes version `{rec.version}` of profile *{target.name}*. It cannot be undone."
        self.profiles.refuse_in_use(target.name)
        count = len(self.profiles.versions(actor, target.name))
        return (
            f"This deletes profile *{target.name}* and all {_count(count, 'version')}. It cannot be undone."
        )

    def _describe_teardown(self, dep: Deployment, target: DeleteTarget, block: windows.Block | None) -> str:
        kept = (
            "persistent volumes and generated passwords are deleted too"
            if target.purge
            else "persistent volumes and generated passwords are kept (add --purge to delete them)"
        )
        gate = self.ctx.config.clusters.get(dep.cluster)
        approval = " It needs approval on this cluster." if gate and gate.approval else ""
        if block is not None and gate is not None and gate.approval is not None:
            needed = gate.approval.required + windows.OVERRIDE_EXTRA
            approval = f" {windows.override_note(block, needed, deleting=True)}."
        return (
            f"This tears down deployment *{dep.name}* on `{dep.cluster}` ({dep.profile}@{dep.version}, "
            f"{_count(len(dep.inventory), 'object')}); {kept}.{approval}"
        )

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
        """Delete without asking which (the CLI and tests): a live deployment wins over the profile,
        which could not be deleted while it is deployed anyway."""
        targets = self.delete_targets(
            actor, name, version, cluster, purge=purge, override_window=override_window
        )
        deployments = [t for t in targets if t.kind == "deployment"]
        if len(deployments) > 1:
            raise several(name, live(self.ctx, name), "delete")
        return self.delete_target(actor, deployments[0] if deployments else targets[0])

    def delete_target(self, actor: Actor, target: DeleteTarget) -> str:
        """Carry out a confirmed delete; everything is re-checked here, nothing trusted from the click."""
        label = f"{target.name}@{target.version}" if target.version else target.name
        authorise(self.ctx, actor, "delete", f"{label} on {target.cluster}" if target.cluster else label)
        if target.kind == "deployment":
            return self.deploys.delete_deployment(
                actor, target.name, target.cluster, purge=target.purge, override_window=target.override_window
            )
        if target.kind == "version":
            return self.profiles.delete_version(actor, target.name, target.version)
        return self.profiles.delete_profile(actor, target.name)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
