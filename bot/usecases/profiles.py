"""Profiles and their versions: read, create, import, version, clone, pick, compare, delete."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.core import model, secrets, validate
from bot.core.errors import Conflict, UserError
from bot.core.records import Actor, ProfileSummary, VersionKind, VersionRecord
from bot.usecases.access import authorise
from bot.usecases.context import UseCaseContext
from bot.usecases.lookup import name_or_current, norm


@dataclass(frozen=True)
class Profiles:
    ctx: UseCaseContext

    # -- reading ---------------------------------------------------------------------------

    def list_profiles(self) -> list[ProfileSummary]:
        return self.ctx.store.list_profiles()

    def show(self, actor: Actor, name: str | None, version: str | None) -> VersionRecord:
        # Reading never changes the channel's current profile: only `use` and `create` do.
        return self.ctx.store.get_version(name_or_current(self.ctx, actor, name), norm(version))

    def versions(self, actor: Actor, name: str | None) -> list[VersionRecord]:
        name = name_or_current(self.ctx, actor, name)
        found = self.ctx.store.list_versions(name)
        if not found:
            self.ctx.store.get_version(name)  # raises NotFound with "did you mean" over the profiles
        return found

    def profile_versions(self, name: str) -> int:
        return len(self.ctx.store.list_versions(name))

    def use(self, actor: Actor, name: str) -> VersionRecord:
        rec = self.ctx.store.get_version(name)
        self.ctx.store.set_current(actor.channel, rec.name)
        self.ctx.store.audit(actor.user, actor.channel, "use", rec.name, "ok")
        return rec

    def current(self, actor: Actor) -> str | None:
        return self.ctx.store.get_current(actor.channel)

    def diff(self, actor: Actor, name: str, v1: str, v2: str) -> str:
        a = self.ctx.store.get_version(name, norm(v1))
        b = self.ctx.store.get_version(name, norm(v2))
        # Secrets are masked on both sides; one that changed shows as changed, never its value.
        before, after = secrets.masked_pair(a.yaml, b.yaml, self.ctx.catalog)
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=a.name + "@" + a.version,
            tofile=b.name + "@" + b.version,
        )
        return "".join(lines) or f"{name} {a.version} and {b.version} are identical"

    def export(self, actor: Actor, name: str, version: str | None) -> str:
        return self.ctx.store.get_version(name, norm(version)).yaml

    # -- changing --------------------------------------------------------------------------

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
        data = model.parse_mapping(yaml_text)
        if name:
            data["name"] = name
        if version:
            data["version"] = model.normalize_version(version)
        if description is not None:
            data["description"] = description
        if tags is not None:
            data["tags"] = tags
        profile = model.from_data(data)
        authorise(self.ctx, actor, "create", profile.ref)
        self._refuse_existing(profile.name, field="name" if name else "yaml")
        # Kept as written when the form changed nothing (the store checks it is this profile).
        return self._save(actor, profile, kind="create", source=None, text=yaml_text)

    def import_yaml(self, actor: Actor, yaml_text: str) -> VersionRecord:
        profile = model.from_yaml(yaml_text)
        # A new version of an existing profile (GitOps) is a `version`, whatever it came through.
        exists = self.ctx.store.latest_version(profile.name) is not None
        authorise(self.ctx, actor, "version" if exists else "create", profile.ref)
        return self._save(actor, profile, kind="import", source=None, text=yaml_text)

    def may_version(self, actor: Actor, name: str, version: str) -> None:
        """Before a version form opens: refused now rather than after it is filled in."""
        new = model.normalize_version(version)
        authorise(self.ctx, actor, "version", f"{name}@{new}")
        if any(r.version == new for r in self.ctx.store.list_versions(name)):
            following = _following(self.ctx.store.latest_version(name) or new)
            raise Conflict(
                f"{name} {new} already exists; versions never change",
                f"type `/appprofile version {name} {following}`",
            )

    def new_version(
        self,
        actor: Actor,
        name: str | None,
        version: str,
        *,
        yaml_text: str | None = None,
        from_version: str | None = None,
    ) -> VersionRecord:
        name = name_or_current(self.ctx, actor, name)
        new = model.normalize_version(version)
        source = self.ctx.store.get_version(name, norm(from_version))
        authorise(self.ctx, actor, "version", f"{name}@{new}")
        if yaml_text is None:
            profile = source.profile().with_identity(version=new)
        else:
            profile = self._edited(source, yaml_text, name, new)
        return self._save(actor, profile, kind="version", source=f"{source.name}@{source.version}")

    def _edited(self, source: VersionRecord, yaml_text: str, name: str, new: str) -> model.Profile:
        """The new version as edited from `source`: the same profile, its masked secrets kept."""
        data = model.parse_mapping(yaml_text)
        if data.get("name", name) != name:
            raise UserError(
                f"the YAML names profile `{data.get('name')}`, but this is a new version of `{name}`",
                "to make a copy under a new name use `/appprofile clone`",
                field="yaml",
            )
        data["name"] = name
        data["version"] = new
        return model.from_data(secrets.unmask(data, source.profile(), self.ctx.catalog))

    def clone(
        self,
        actor: Actor,
        source: str | None,
        source_version: str | None,
        new_name: str,
        *,
        new_version: str | None = None,
    ) -> VersionRecord:
        src = self.ctx.store.get_version(name_or_current(self.ctx, actor, source), norm(source_version))
        version = model.normalize_version(new_version) if new_version else src.version
        authorise(self.ctx, actor, "clone", f"{new_name}@{version}")
        self._refuse_existing(new_name, field="new_name", what="clone")
        data = model.to_data(src.profile())
        data["name"] = new_name
        data["version"] = version
        profile = model.from_data(data)
        return self._save(actor, profile, kind="clone", source=f"{src.name}@{src.version}")

    def _save(
        self,
        actor: Actor,
        profile: model.Profile,
        *,
        kind: VersionKind,
        source: str | None,
        text: str | None = None,
    ) -> VersionRecord:
        validate.profile(profile, self.ctx.catalog)
        if secrets.given_values(profile, self.ctx.catalog) or secrets.manifest_secrets(profile):
            # Stored only sealed (APPPROFILE_SECRET_KEY); never in clear text.
            self.ctx.store.require_sealing(f"a secret value in {profile.ref}")
        rec = self.ctx.store.create_version(
            profile, actor=actor.user, channel=actor.channel, kind=kind, source=source, text=text
        )
        if kind == "create":
            self.ctx.store.set_current(actor.channel, rec.name)
        return rec

    def _refuse_existing(self, name: str, *, field: str | None = None, what: str = "create") -> None:
        """`create`, `import` and `clone` make new profiles; a new version is `version`'s job."""
        latest = self.ctx.store.latest_version(name)
        if latest is None:
            return
        raise Conflict(
            f"profile `{name}` already exists (latest version {latest}); `{what}` makes new profiles only",
            f"to add a version type `/appprofile version {name} {_following(latest)}`",
            field=field,
        )

    # -- deleting --------------------------------------------------------------------------

    def delete_version(self, actor: Actor, name: str, version: str | None) -> str:
        version = norm(version) or ""
        self.ctx.store.delete_version(name, version, actor=actor.user, channel=actor.channel)
        return f"Deleted {name} {version}."

    def delete_profile(self, actor: Actor, name: str) -> str:
        self.refuse_in_use(name)
        self.ctx.store.delete_profile(name, actor=actor.user, channel=actor.channel)
        return f"Deleted profile {name} and all its versions."

    def refuse_in_use(self, name: str) -> None:
        """A profile with live deployments stays; the refusal says how to delete them first."""
        store = self.ctx.store
        using = [d for d in store.list_deployments() if d.profile == name and d.status != "deleted"]
        if not using:
            return
        listing = ", ".join(f"{d.name} on {d.cluster}" for d in using)
        commands = " then ".join(f"`/appprofile delete {d.name} from {d.cluster}`" for d in using)
        raise Conflict(
            f"profile `{name}` cannot be deleted: it is still deployed ({listing})",
            f"delete those deployments first: {commands}",
        )


def _following(latest: str) -> str:
    """The next minor version after `latest`: what to type for a new version."""
    major, minor, _ = model.version_key(latest)
    return f"{major}.{minor + 1}.0"
