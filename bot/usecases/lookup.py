"""Finding what a command names: a version, the channel's current profile, a live deployment."""

from __future__ import annotations

from bot.core import model
from bot.core.errors import NotFound, UserError
from bot.core.records import Actor, Deployment
from bot.usecases.context import UseCaseContext


def norm(version: str | None) -> str | None:
    return model.normalize_version(version) if version else None


def name_or_current(ctx: UseCaseContext, actor: Actor, name: str | None) -> str:
    if name:
        return name
    current = ctx.store.get_current(actor.channel)
    if current is None:
        raise UserError(
            "this channel has no current profile yet",
            "name one (`/appprofile show NAME`) or pick it with `/appprofile use NAME`",
        )
    return current


def live(ctx: UseCaseContext, name: str) -> list[Deployment]:
    return [d for d in ctx.store.find_deployments(name) if d.status != "deleted"]


def deployment_on(ctx: UseCaseContext, name: str, cluster: str | None, command: str) -> Deployment:
    """The live deployment `name` (on `cluster`); several and no cluster named → refused."""
    found = live(ctx, name)
    if cluster is not None:
        there = [d for d in found if d.cluster == cluster]
        if not there:
            where = ", ".join(d.cluster for d in found) or "no cluster"
            raise NotFound(
                f"there is no deployment `{name}` on {cluster} (it is on {where})",
                "see `/appprofile deployments`",
            )
        return there[0]
    if not found:
        raise NotFound(f"there is no deployment named `{name}`", "see `/appprofile deployments`")
    if len(found) > 1:
        raise several(name, found, command)
    return found[0]


def several(name: str, found: list[Deployment], command: str) -> UserError:
    """`NAME` is deployed on several clusters and none was named: list them, say what to type."""
    where = ", ".join(d.cluster for d in found)
    verb = "from" if command == "delete" else "on"
    return UserError(
        f"`{name}` is deployed on {len(found)} clusters ({where}); say which one",
        f"e.g. `/appprofile {command} {name} {verb} {found[0].cluster}`",
    )
