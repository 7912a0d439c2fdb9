"""The `/appprofile` slash command: parsed and acked at once, answered from the executor.

A command Slack cannot parse is answered in the ack (with a Help button for an unknown command
or missing arguments); the rest runs as a job, and each command kind has its handler below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core import commands, model, secrets
from bot.core.errors import UserError
from bot.core.records import Actor
from bot.slack import blocks, drift_view, failures, modals, tables
from bot.slack.blocks import Message
from bot.slack.listeners import answers, pages
from bot.slack.listeners.context import Context
from bot.slack.listeners.replies import Replies, actor, kwargs

if TYPE_CHECKING:
    from bot.core.records import VersionRecord
    from bot.usecases.service import Service

COMMAND = "/appprofile"


@dataclass(frozen=True)
class Asked:
    """One command being answered: by whom, where the answers go, its trigger for a form."""

    ctx: Context
    actor: Actor
    replies: Replies
    trigger: str

    @property
    def service(self) -> Service:
        return self.ctx.service

    def card(self, rec: VersionRecord, title: str) -> Message:
        return answers.card(rec, self.service.catalog, title)


def register(app: App, ctx: Context) -> None:
    @app.command(COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        try:
            cmd = commands.parse(str(body.get("text") or ""))
        except Exception as exc:
            ack(response_type="ephemeral", **kwargs(failures.report(exc, "parsing", help_button=True)))
            return
        ack()
        who = actor(
            str(body.get("user_id", "")), str(body.get("channel_id", "")), str(body.get("user_name", ""))
        )
        asked = Asked(ctx, who, Replies(client, respond, who.channel), str(body.get("trigger_id", "")))
        ctx.jobs.run(cmd.kind, asked.replies, lambda: answer(asked, cmd))


def answer(a: Asked, cmd: commands.Command) -> None:
    s, me, r = a.service, a.actor, a.replies
    match cmd:
        case commands.Help():
            r.private(blocks.help_message(s.help_text()))
        case commands.List():
            r.private(blocks.profile_list(s.list_profiles()))
        case commands.Show():
            r.public(a.card(s.show(me, cmd.name, cmd.version), ""))
        case commands.Versions():
            r.private(tables.versions(s.versions(me, cmd.name)))
        case commands.Services():
            r.private(services(s, cmd.type))
        case commands.Use():
            rec = s.use(me, cmd.name)
            r.public(blocks.plain(f"<@{me.user}> made {rec.name} this channel's current profile."))
        case commands.Create():
            create(a, cmd)
        case commands.Version():
            version(a, cmd)
        case commands.Clone():
            clone(a, cmd)
        case commands.Diff():
            r.public(blocks.diff(cmd.name, cmd.v1, cmd.v2, s.diff(me, cmd.name, cmd.v1, cmd.v2)))
        case commands.Export():
            export(a, cmd)
        case commands.Delete():
            delete(a, cmd)
        case commands.Deploy():
            a.ctx.deploy_reply(s.deploy(me, cmd.request), r)
        case commands.Promote():
            ticket = s.promote(
                me,
                cmd.name,
                cmd.from_cluster,
                cmd.to_cluster,
                new_name=cmd.new_name,
                override_window=cmd.override_window,
            )
            a.ctx.deploy_reply(ticket, r)
        case commands.Status():
            r.private(drift_view.status(s.status(me, cmd.name, cmd.cluster)))
        case commands.Deployments():
            r.private(tables.deployments(s.deployments(me)))
        case commands.Outputs():
            dep = s.outputs(me, cmd.name, cmd.cluster)
            r.private(blocks.outputs(dep.name, dep.outputs, s.catalog, cluster=dep.cluster))
        case commands.Logs():
            found = s.logs(me, cmd.name, cmd.tier, cmd.cluster, cmd.lines)
            answers.post_logs(r, found, me.user)
        case commands.Audit():
            first = tables.AuditPage(limit=cmd.limit, profile=cmd.profile, cluster=cmd.cluster)
            r.private(pages.audit(s, me, first))


def services(service: Service, type_name: str | None) -> Message:
    if type_name:
        return blocks.service_detail(service.service_type(type_name))
    return blocks.services_list(service.service_types())


def current(a: Asked, name: str | None) -> str:
    """The profile named, else the channel's current one."""
    if name:
        return name
    found = a.service.current(a.actor)
    if found is None:
        raise UserError(
            "this channel has no current profile yet",
            "name the profile, or pick one with `/appprofile use NAME`",
        )
    return found


def create(a: Asked, cmd: commands.Create) -> None:
    if cmd.yaml is None:
        a.replies.open_view(a.trigger, modals.create_view(a.actor.channel))
    else:
        a.replies.public(a.card(a.service.create(a.actor, cmd.yaml), "Created"))


def version(a: Asked, cmd: commands.Version) -> None:
    """Always a form, prefilled with the source YAML and NEW (or a suggested next version)."""
    s = a.service
    name = current(a, cmd.name)
    source = s.show(a.actor, name, cmd.from_version)
    latest = max((r.version for r in s.versions(a.actor, name)), key=model.version_key)
    major, minor, _ = model.version_key(latest)
    new = cmd.new or f"{major}.{minor + 1}.0"
    s.may_version(a.actor, name, new)  # refused now, not after the form is filled in
    # Secrets are masked in the form; the use case keeps the source's value where a mask comes back.
    shown = secrets.mask_yaml(source.yaml, s.catalog)
    a.replies.open_view(a.trigger, modals.version_view(a.actor.channel, name, source.version, shown, new))


def clone(a: Asked, cmd: commands.Clone) -> None:
    s = a.service
    source = current(a, cmd.source)
    if cmd.new_name is not None:
        rec = s.clone(a.actor, source, cmd.source_version, cmd.new_name, new_version=cmd.new_version)
        a.replies.public(a.card(rec, "Cloned"))
        return
    s.export(a.actor, source, cmd.source_version)  # a missing source fails now, not on submit
    view = modals.clone_view(a.actor.channel, source, cmd.source_version, None, cmd.new_version)
    a.replies.open_view(a.trigger, view)


def export(a: Asked, cmd: commands.Export) -> None:
    text = a.service.export(a.actor, cmd.name, cmd.version)
    shown = cmd.version or str(model.from_yaml(text).version)
    a.replies.public(blocks.export(cmd.name, shown, text, a.service.catalog))


def delete(a: Asked, cmd: commands.Delete) -> None:
    """One target: its confirmation. A name that is a profile and a deployment: a choice."""
    s = a.service
    targets = s.delete_targets(
        a.actor, cmd.name, cmd.version, cmd.cluster, purge=cmd.purge, override_window=cmd.override_window
    )
    if len(targets) == 1:
        a.replies.private(blocks.delete_confirm(targets[0], s.describe_delete(a.actor, targets[0])))
        return
    a.replies.private(blocks.delete_choice(cmd.name, targets, s.profile_versions(cmd.name)))
