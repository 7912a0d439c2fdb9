"""The App Profile: a named, versioned, ordered stack of service tiers (DESIGN §2).

Structure and bounds live here; what a tier's `properties` may hold is the catalogue's business
(`catalog`), and macro references are `macros`'. `validate.profile` runs all three.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.errors import UserError

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
TIER_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
VERSION_RE = re.compile(r"^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$")
OUTPUT_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")

MAX_YAML_BYTES = 256 * 1024
MAX_TIERS = 50
MAX_MANIFESTS = 100
MAX_TAGS = 20
MAX_DESCRIPTION = 500

TierType = Literal[
    "container",
    "helm",
    "manifest",
    "postgresql",
    "mysql",
    "mongodb",
    "redis",
    "nats",
    "kafka",
    "vault",
    "minio",
    "s3",
]
TIER_TYPES: tuple[str, ...] = TierType.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceRef(_Strict):
    """Read an output from a Service of the tier: its cluster host, port or external address."""

    name: str = Field(min_length=1, max_length=253)
    field: Literal["host", "port", "externalIP", "externalHostname"] = "host"


class SecretRef(_Strict):
    """Read an output from a key of a Secret the tier created."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253)


class OutputDecl(_Strict):
    """An output a helm or manifest tier publishes to the tiers above it."""

    name: str
    value: str | None = Field(default=None, max_length=4096)
    service: ServiceRef | None = None
    secret: SecretRef | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not OUTPUT_RE.match(v):
            raise ValueError(f"output name {v!r} must be UPPER_SNAKE_CASE (A-Z, 0-9, _), e.g. WEB_SVC")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> OutputDecl:
        given = [k for k in ("value", "service", "secret") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"output {self.name} needs exactly one of value, service or secret (got {len(given)})"
            )
        return self


class ManifestDoc(_Strict):
    name: str = Field(min_length=1, max_length=63)
    content: str = Field(min_length=1, max_length=MAX_YAML_BYTES)


class Tier(_Strict):
    name: str
    type: TierType
    properties: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    outputs: list[OutputDecl] = Field(default_factory=list)
    manifests: list[ManifestDoc] = Field(default_factory=list, max_length=MAX_MANIFESTS)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not TIER_RE.match(v):
            raise ValueError(
                f"tier name {v!r} must be a DNS label: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters"
            )
        return v

    @model_validator(mode="after")
    def _shape(self) -> Tier:
        if self.type == "manifest" and not self.manifests:
            raise ValueError("a manifest tier needs at least one entry in `manifests`")
        if self.type != "manifest" and self.manifests:
            raise ValueError(f"`manifests` belongs to manifest tiers, not to a {self.type} tier")
        if self.outputs and self.type not in ("helm", "manifest"):
            raise ValueError(
                f"a {self.type} tier publishes its outputs itself; `outputs:` is for helm and manifest tiers"
            )
        names = [o.name for o in self.outputs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"output {dupes[0]} is declared twice")
        docs = [m.name for m in self.manifests]
        dupes = sorted({n for n in docs if docs.count(n) > 1})
        if dupes:
            raise ValueError(f"manifest {dupes[0]} is declared twice")
        return self


class Profile(_Strict):
    name: str
    version: str = "1.0.0"
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    tiers: list[Tier] = Field(min_length=1, max_length=MAX_TIERS)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(
                f"profile name {v!r} must be lowercase letters, digits and '-', start and end with a "
                "letter or digit, at most 40 characters (it prefixes Kubernetes names)"
            )
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> str:
        return normalize_version(str(v))

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not t or len(t) > 64:
                raise ValueError(f"tag {t!r} must be 1 to 64 characters")
        return v

    @model_validator(mode="after")
    def _unique_tiers(self) -> Profile:
        seen: set[str] = set()
        for t in self.tiers:
            if t.name in seen:
                raise ValueError(f"tier name {t.name!r} is used twice; tier names are unique in a profile")
            seen.add(t.name)
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def tier(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name == name:
                return t
        raise KeyError(name)

    def with_identity(self, *, name: str | None = None, version: str | None = None) -> Profile:
        return self.model_copy(update={"name": name or self.name, "version": version or self.version})


def normalize_version(text: str) -> str:
    """`v2`, `2`, `2.0` and `2.0.0` all mean 2.0.0 (DESIGN §1)."""
    raw = text.strip()
    core = raw[1:] if raw[:1] in ("v", "V") else raw
    parts = core.split(".")
    if 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
        parts += ["0"] * (3 - len(parts))
        candidate = ".".join(str(int(p)) for p in parts)
        if VERSION_RE.match(candidate):
            return candidate
    raise UserError(
        f"`{raw}` is not a version",
        "versions are digits-only major.minor.patch such as 1.2.0; `v2`, `2` and `2.0` mean 2.0.0",
        field="version",
    )


def version_key(version: str) -> tuple[int, int, int]:
    a, b, c = (int(p) for p in version.split("."))
    return (a, b, c)


def _loc(loc: tuple[int | str, ...], data: Any) -> str:
    """Turn pydantic's location into `tier api (container): properties.replicas`."""
    parts: list[str] = []
    i = 0
    if len(loc) >= 2 and loc[0] == "tiers" and isinstance(loc[1], int):
        tiers = data.get("tiers") if isinstance(data, dict) else None
        label = f"tier #{loc[1] + 1}"
        if isinstance(tiers, list) and loc[1] < len(tiers) and isinstance(tiers[loc[1]], dict):
            t = tiers[loc[1]]
            label = f"tier {t.get('name', '#' + str(loc[1] + 1))}"
        parts.append(label)
        i = 2
    rest = ".".join(str(p) for p in loc[i:] if not str(p).startswith("function-"))
    if rest:
        parts.append(rest)
    return ": ".join(parts) if parts else "profile"


def from_data(data: Any) -> Profile:
    """Build a profile from parsed YAML, turning pydantic's errors into one readable UserError."""
    _require_mapping(data)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:5]:
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field `{err['loc'][-1]}`"
            elif err["type"] == "missing":
                msg = "is required"
            elif err["type"] == "literal_error" and err["loc"][-1] == "type":
                msg = f"unknown tier type {err.get('input')!r}; types: {', '.join(TIER_TYPES)}"
            lines.append(f"{_loc(tuple(err['loc']), data)}: {msg}")
        more = exc.error_count() - len(lines)
        if more > 0:
            lines.append(f"…and {more} more")
        raise UserError(
            "the profile is not valid:\n" + "\n".join(lines),
            "fix the fields named above and send it again; nothing was saved",
        ) from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """` at line 3, column 5: mapping values are not allowed here` — where and what, for people."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {getattr(exc, 'problem', None) or 'it could not be parsed'}"


def parse_mapping(text: str) -> dict[str, Any]:
    """Profile YAML text → a mapping, with the size bound and readable YAML errors."""
    if not text.strip():
        raise UserError(
            "the profile YAML is empty", "paste the profile YAML in a ``` code block", field="yaml"
        )
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise UserError(
            f"the profile YAML is {size // 1024} KiB; the limit is 256 KiB",
            "move large manifests into a Helm chart or split the profile",
            field="yaml",
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(
            f"the profile is not valid YAML{yaml_problem(exc)}",
            "check indentation and quoting; in Slack, paste the YAML inside a ``` code block",
            field="yaml",
        ) from None
    return _require_mapping(data)


def _require_mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UserError(
            "a profile is a YAML mapping with `name`, `version` and `tiers`",
            "start from `/appprofile export NAME@VERSION` or an example in profiles/examples/",
            field="yaml",
        )
    return data


def from_yaml(text: str) -> Profile:
    return from_data(parse_mapping(text))


def to_data(profile: Profile) -> dict[str, Any]:
    """The canonical mapping: defaults left out so exports stay as short as what people write."""
    data = profile.model_dump(mode="json", exclude_defaults=True)
    data["version"] = profile.version
    ordered: dict[str, Any] = {"name": data.pop("name"), "version": data.pop("version")}
    for key in ("description", "tags", "tiers"):
        if key in data:
            ordered[key] = data.pop(key)
    return ordered


def to_yaml(profile: Profile) -> str:
    data = to_data(profile)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if yaml.safe_load(text) != data:
        # A few characters (NEL, line/paragraph separators) are line breaks to a YAML reader
        # when written raw; escaping everything keeps the round trip exact.
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=100)
    return text


def check_lineage(previous: Profile, new: Profile) -> None:
    """Across versions of one profile a tier keeps its type (Palette rule)."""
    before = {t.name: t.type for t in previous.tiers}
    for t in new.tiers:
        old = before.get(t.name)
        if old is not None and old != t.type:
            raise UserError(
                f"tier {t.name}: type changes from {old} to {t.type} between versions",
                f"a tier keeps its type across versions; give the {t.type} tier a new name",
            )
