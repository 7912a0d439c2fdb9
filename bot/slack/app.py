"""The Bolt app: `/appprofile` commands, button clicks and form submissions → the use cases.

Every listener acks at once; the work runs on the caller's executor and answers through the Web
API (channel messages) or the `response_url` (replies only the person sees). A `UserError`
becomes an ephemeral message with its hint; anything else is a bug, logged with an incident id,
and the person sees only that id.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.core import commands, model, secrets
from bot.core.errors import UserError
from bot.core.records import Actor
from bot.service import DeleteTarget
from bot.slack import blocks, modals, plan_view, replay
from bot.slack.blocks import Message

if TYPE_CHECKING:
    from bot.core.records import VersionRecord
    from bot.service import DeployTicket, Service

log = logging.getLogger(__name__)

COMMAND = "/appprofile"
APPROVE_ACTION = "approval_approve"
REJECT_ACTION = "approval_reject"
RETRY_ACTION = "run_retry"
ROLLBACK_ACTION = "run_rollback"
SLACK_API = "https://slack.com/api/"


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A WebClient that retries rate limits (Retry-After), 5xx answers and dropped connections."""
    url = base_url or SLACK_API
    if not url.endswith("/"):
        url += "/"  # slack_sdk appends the method name to base_url as is
    return WebClient(
        token=token,
        base_url=url,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def new_incident() -> str:
    return uuid.uuid4().hex[:8]


class DeleteValue(BaseModel):
    """A delete button's value. Only names what to delete; the use case re-authorises."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["profile", "version", "deployment"]
    name: str = Field(pattern=model.NAME_RE.pattern)
    version: str | None = Field(default=None, max_length=40)
    cluster: str | None = Field(default=None, max_length=63)
    purge: bool = False

    def target(self) -> DeleteTarget:
        return DeleteTarget(**self.model_dump())


class UpgradeValue(BaseModel):
    """The Upgrade button's value: which deployment; the version is the profile's latest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str = Field(max_length=63)
    name: str = Field(max_length=63)


class RunCard(BaseModel):
    """The approval buttons' value: which run, and the plan fingerprint the card showed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: int
    fp: str = Field(max_length=128)


_Value = TypeVar("_Value", bound=BaseModel)


def _button_value(action: dict[str, Any], kind: type[_Value]) -> _Value:
    try:
        return kind.model_validate(json.loads(str(action.get("value") or "")))
    except (ValueError, ValidationError):
        raise UserError("this button is out of date", "run the command again for a fresh one") from None


def _offers_help(exc: UserError) -> bool:
    return isinstance(exc, commands.UnknownCommand | commands.MissingArguments)


def _actor(user: str, channel: str, user_name: str = "") -> Actor:
    return Actor(user=user, channel=channel, user_name=user_name)


def _kwargs(msg: Message) -> dict[str, Any]:
    return {"text": msg.text, "blocks": msg.blocks}


class _Replies:
    """Where one request's answers go: the channel (Web API) or the person (response_url)."""

    def __init__(self, client: WebClient, respond: Callable[..., Any], channel: str) -> None:
        self.client = client
        self.respond = respond
        self.channel = channel

    def private(self, msg: Message, *, replace: bool = False) -> None:
        self.respond(response_type="ephemeral", replace_original=replace, **_kwargs(msg))

    def public(self, msg: Message) -> None:
        try:
            first = self.client.chat_postMessage(channel=self.channel, **_kwargs(msg))
        except SlackApiError as exc:
            if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
                raise
            # The bot is not in this channel: answer in place through the command's response_url.
            self.respond(response_type="in_channel", **_kwargs(msg))
            for part in msg.thread:
                self.respond(response_type="in_channel", **_kwargs(part))
            return
        for part in msg.thread:
            self.client.chat_postMessage(channel=self.channel, thread_ts=first["ts"], **_kwargs(part))


def build_app(
    service: Service,
    *,
    client: WebClient,
    signing_secret: str,
    executor: concurrent.futures.Executor,
    seen: replay.SeenRequests | None = None,
) -> App:
    app = App(client=client, signing_secret=signing_secret, raise_error_for_unhandled_request=False)
    # After Bolt's signature check: a retry or a replayed signed request is acked, not run again.
    app.use(replay.middleware(seen or replay.MemorySeen()))
    catalog = service.catalog

    def run(what: str, replies: _Replies, job: Callable[[], None]) -> None:
        """Run `job` on the executor; turn its failures into something a person can read."""

        def guarded() -> None:
            try:
                job()
            except UserError as exc:
                _safe(replies.private, blocks.user_error(exc))
            except Exception:
                incident = new_incident()
                log.exception("incident %s: %s failed", incident, what)
                _safe(replies.private, blocks.incident(incident))

        executor.submit(guarded)

    def _safe(send: Callable[[Message], None], msg: Message) -> None:
        try:
            send(msg)
        except Exception:
            log.exception("could not deliver an error reply")

    # -- slash command ---------------------------------------------------------------------------

    @app.command(COMMAND)
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        try:
            cmd = commands.parse(str(body.get("text") or ""))
        except UserError as exc:
            ack(
                response_type="ephemeral",
                **_kwargs(blocks.user_error(exc, help_button=_offers_help(exc))),
            )
            return
        ack()
        actor = _actor(
            str(body.get("user_id", "")), str(body.get("channel_id", "")), str(body.get("user_name", ""))
        )
        replies = _Replies(client, respond, actor.channel)
        trigger = str(body.get("trigger_id", ""))
        run(cmd.kind, replies, lambda: _handle(cmd, actor, replies, trigger))

    def _card(rec: VersionRecord, title: str) -> Message:
        note = "It is now this channel's current profile." if rec.kind == "create" else ""
        return blocks.version_card(rec, catalog, title=title, note=note)

    def _handle(cmd: commands.Command, actor: Actor, replies: _Replies, trigger: str) -> None:
        if isinstance(cmd, commands.Help):
            replies.private(blocks.help_message(service.help_text()))
        elif isinstance(cmd, commands.List):
            replies.private(blocks.profile_list(service.list_profiles()))
        elif isinstance(cmd, commands.Show):
            replies.public(_card(service.show(actor, cmd.name, cmd.version), ""))
        elif isinstance(cmd, commands.Versions):
            replies.private(blocks.versions_list(service.versions(actor, cmd.name)))
        elif isinstance(cmd, commands.Services):
            if cmd.type:
                replies.private(blocks.service_detail(service.service_type(cmd.type)))
            else:
                replies.private(blocks.services_list(service.service_types()))
        elif isinstance(cmd, commands.Use):
            rec = service.use(actor, cmd.name)
            replies.public(blocks.plain(f"<@{actor.user}> made {rec.name} this channel's current profile."))
        elif isinstance(cmd, commands.Create):
            if cmd.yaml is None:
                replies.client.views_open(trigger_id=trigger, view=modals.create_view(actor.channel))
            else:
                replies.public(_card(service.create(actor, cmd.yaml), "Created"))
        elif isinstance(cmd, commands.Version):
            _version(cmd, actor, replies, trigger)
        elif isinstance(cmd, commands.Clone):
            _clone(cmd, actor, replies, trigger)
        elif isinstance(cmd, commands.Diff):
            text = service.diff(actor, cmd.name, cmd.v1, cmd.v2)
            replies.public(blocks.diff(cmd.name, cmd.v1, cmd.v2, text))
        elif isinstance(cmd, commands.Export):
            text = service.export(actor, cmd.name, cmd.version)
            shown = cmd.version or str(model.from_yaml(text).version)
            replies.public(blocks.export(cmd.name, shown, text, catalog))
        elif isinstance(cmd, commands.Delete):
            _delete(cmd, actor, replies)
        elif isinstance(cmd, commands.Deploy):
            _deploy(cmd.request, actor, replies)
        elif isinstance(cmd, commands.Status):
            replies.private(blocks.status(service.status(actor, cmd.name, cmd.cluster)))
        elif isinstance(cmd, commands.Deployments):
            replies.private(blocks.deployments_list(service.deployments(actor)))
        elif isinstance(cmd, commands.Outputs):
            dep = service.outputs(actor, cmd.name, cmd.cluster)
            replies.private(blocks.outputs(dep.name, dep.outputs, catalog, cluster=dep.cluster))
        else:
            replies.private(blocks.audit(service.audit(actor, cmd.limit, cmd.profile, cmd.cluster)))

    def _current(actor: Actor, name: str | None) -> str:
        if name:
            return name
        current = service.current(actor)
        if current is None:
            raise UserError(
                "this channel has no current profile yet",
                "name the profile, or pick one with `/appprofile use NAME`",
            )
        return current

    def _version(cmd: commands.Version, actor: Actor, replies: _Replies, trigger: str) -> None:
        """Always a form, prefilled with the source YAML and NEW (or a suggested next version)."""
        name = _current(actor, cmd.name)
        source = service.show(actor, name, cmd.from_version)
        latest = max((r.version for r in service.versions(actor, name)), key=model.version_key)
        major, minor, _ = model.version_key(latest)
        new = cmd.new or f"{major}.{minor + 1}.0"
        service.may_version(actor, name, new)  # refused now, not after the form is filled in
        # Secrets are masked in the form; the use case keeps the source's value where a mask comes back.
        shown = secrets.mask_yaml(source.yaml, service.catalog)
        view = modals.version_view(actor.channel, name, source.version, shown, new)
        replies.client.views_open(trigger_id=trigger, view=view)

    def _delete(cmd: commands.Delete, actor: Actor, replies: _Replies) -> None:
        """One target: its confirmation. A name that is a profile and a deployment: a choice."""
        targets = service.delete_targets(actor, cmd.name, cmd.version, cmd.cluster, purge=cmd.purge)
        if len(targets) == 1:
            what = service.describe_delete(actor, targets[0])
            replies.private(blocks.delete_confirm(targets[0], what))
            return
        versions = service.profile_versions(cmd.name)
        replies.private(blocks.delete_choice(cmd.name, targets, versions))

    def _clone(cmd: commands.Clone, actor: Actor, replies: _Replies, trigger: str) -> None:
        source = _current(actor, cmd.source)
        if cmd.new_name is not None:
            rec = service.clone(actor, source, cmd.source_version, cmd.new_name, new_version=cmd.new_version)
            replies.public(_card(rec, "Cloned"))
            return
        service.export(actor, source, cmd.source_version)  # a missing source fails now, not on submit
        view = modals.clone_view(actor.channel, source, cmd.source_version, None, cmd.new_version)
        replies.client.views_open(trigger_id=trigger, view=view)

    def _deploy(req: commands.DeployRequest, actor: Actor, replies: _Replies) -> None:
        _deploy_reply(service.deploy(actor, req), replies)

    def _deploy_reply(ticket: DeployTicket, replies: _Replies) -> None:
        p = ticket.plan
        if ticket.preview_only:
            note = "No cluster executor is running, so this is the plan only."
            replies.public(
                blocks.deploy_preview(p.profile, p.version, p.cluster, p.deployment, p.summary(), note)
            )
            return
        # The channel already has the plan: on the approval card, or on the run's progress message.
        # The first line says what is deployed where, whether or not the command named the profile.
        what = f"{p.profile} {p.version} → {p.deployment} on {p.cluster}"
        if ticket.awaiting_approval:
            text = f"Approval requested to deploy {what} (run #{ticket.run_id}): the card is in the channel."
        elif ticket.queued_position:
            behind = blocks.plural(ticket.queued_position, "other run")
            text = (
                f"Deploying {what}: run #{ticket.run_id} is queued behind {behind}; "
                "its message in the channel shows its place."
            )
        else:
            text = (
                f"Deploying {what}: run #{ticket.run_id} started ({p.summary()}); progress is in the channel."
            )
        replies.private(blocks.plain(text))

    # -- buttons ---------------------------------------------------------------------------------

    def _click_replies(body: dict[str, Any], client: WebClient, respond: Respond) -> tuple[Actor, _Replies]:
        channel = str(
            (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        )
        user = body.get("user") or {}
        actor = _actor(str(user.get("id", "")), channel, str(user.get("username") or user.get("name") or ""))
        return actor, _Replies(client, respond, channel)

    @app.action(blocks.HELP_ACTION)
    def on_help(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        _, replies = _click_replies(body, client, respond)
        run("help", replies, lambda: replies.private(blocks.help_message(service.help_text())))

    @app.action(blocks.CANCEL_ACTION)
    def on_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(delete_original=True)

    @app.action(blocks.DELETE_ACTION)
    def on_delete(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor, replies = _click_replies(body, client, respond)

        def job() -> None:
            target = _button_value(action, DeleteValue).target()
            done = service.delete_target(actor, target)
            replies.private(blocks.plain(done), replace=True)
            replies.public(blocks.plain(f"<@{actor.user}>: {done}"))

        run("delete", replies, job)

    @app.action(blocks.DELETE_CHOOSE_ACTION)
    def on_delete_choice(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """A choice made: show that target's confirmation in place of the choice."""
        ack()
        actor, replies = _click_replies(body, client, respond)

        def job() -> None:
            target = _button_value(action, DeleteValue).target()
            what = service.describe_delete(actor, target)
            replies.private(blocks.delete_confirm(target, what), replace=True)

        run("delete choice", replies, job)

    # Approval and run buttons are drawn by `slack.progress`; the value only names the run and
    # the plan fingerprint on the card, and the use case re-checks everything from the store.
    def _decide(decision: str) -> Callable[..., None]:
        def on_decision(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
        ) -> None:
            ack()
            actor, replies = _click_replies(body, client, respond)

            def job() -> None:
                target = _button_value(action, RunCard)
                replies.private(blocks.plain(service.decide(actor, target.run, decision, target.fp)))

            run(decision, replies, job)

        return on_decision

    def _rerun(rollback: bool) -> Callable[..., None]:
        def on_rerun(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
        ) -> None:
            ack()
            actor, replies = _click_replies(body, client, respond)

            def job() -> None:
                raw = str(action.get("value") or "")
                if not raw.isdecimal():
                    raise UserError("this button is out of date", "run `/appprofile deploy` again")
                ticket = service.retry(actor, int(raw), rollback=rollback)
                what = "Rollback" if rollback else "Retry"
                where = f" (queue position {ticket.queued_position})" if ticket.queued_position else ""
                replies.private(blocks.plain(f"{what} requested as run #{ticket.run_id}{where}."))

            run("rollback" if rollback else "retry", replies, job)

        return on_rerun

    @app.action(blocks.UPGRADE_ACTION)
    def on_upgrade(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor, replies = _click_replies(body, client, respond)

        def job() -> None:
            target = _button_value(action, UpgradeValue)
            ticket = service.upgrade(actor, target.cluster, target.name)
            _deploy_reply(ticket, replies)

        run("upgrade", replies, job)

    @app.action(plan_view.VIEW_PLAN_ACTION)
    def on_view_plan(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        _, replies = _click_replies(body, client, respond)
        trigger = str(body.get("trigger_id", ""))

        def job() -> None:
            raw = str(action.get("value") or "")
            if not raw.isdecimal():
                raise UserError("this button is out of date", "run the command again for a fresh one")
            run_ = service.run(int(raw))
            title = f"Plan of run #{run_.id}"
            client.views_open(trigger_id=trigger, view=plan_view.plan_modal(title, run_.plan))

        run("view plan", replies, job)

    app.action(APPROVE_ACTION)(_decide("approve"))
    app.action(REJECT_ACTION)(_decide("reject"))
    app.action(RETRY_ACTION)(_rerun(False))
    app.action(ROLLBACK_ACTION)(_rerun(True))

    # -- form submissions --------------------------------------------------------------------------

    def submit(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        default_block: str,
        save: Callable[[Actor], VersionRecord],
        title: str,
    ) -> None:
        """Validate and save before acking (so errors show inline), then post in the channel."""
        ctx = modals.context(view)
        user = body.get("user") or {}
        actor = _actor(
            str(user.get("id", "")), ctx.channel, str(user.get("username") or user.get("name") or "")
        )
        try:
            rec = save(actor)
        except UserError as exc:
            message = exc.message if not exc.hint else f"{exc.message} — {exc.hint}"
            ack(
                response_action="errors",
                errors={modals.error_block(view, exc, default_block): message[:1500]},
            )
            return
        except Exception:
            incident = new_incident()
            log.exception("incident %s: %s form failed", incident, title)
            text = f"Something went wrong on our side (incident {incident})."
            ack(response_action="errors", errors={default_block: text})
            return
        ack()

        def noop_respond(**_: Any) -> None:
            """A form has no response_url; errors after saving go to the log only."""

        replies = _Replies(client, noop_respond, ctx.channel)
        run(f"{title} post", replies, lambda: replies.public(_card(rec, title)))

    @app.view(modals.CREATE)
    def on_create(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        def save(actor: Actor) -> VersionRecord:
            form = modals.read_create(view)
            return service.create(
                actor,
                form.yaml,
                name=form.name,
                version=form.version,
                description=form.description,
                tags=form.tags,
            )

        submit(ack, body, view, client, "yaml", save, "Created")

    @app.view(modals.VERSION)
    def on_version(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        ctx = modals.context(view)

        def save(actor: Actor) -> VersionRecord:
            form = modals.read_version(view)
            return service.new_version(
                actor, ctx.name, form.version, yaml_text=form.yaml, from_version=ctx.version
            )

        submit(ack, body, view, client, "yaml", save, "New version")

    @app.view(modals.CLONE)
    def on_clone(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        ctx = modals.context(view)

        def save(actor: Actor) -> VersionRecord:
            form = modals.read_clone(view)
            return service.clone(actor, ctx.name, ctx.version, form.new_name, new_version=form.new_version)

        submit(ack, body, view, client, "new_name", save, "Cloned")

    return app
