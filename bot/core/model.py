"""The App Profile: a named, versioned, ordered stack of service tiers (DESIGN §2).

Structure and bounds live here; what a tier's `properties` may hold is the catalogue's business
(`catalog`), and macro references are `macros`'. `validate.profile` runs all three.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.errors import InvalidProfile, Problem, UserError, describe, did_you_mean, kind_phrase

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
        try:
            return normalize_version(str(v))
        except UserError as exc:
            # Raised as ValueError so pydantic reports it next to the profile's other problems.
            raise ValueError(f"{exc.message}; {exc.hint}") from None

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


# --- reading YAML within bounds ------------------------------------------------------------

MAX_DEPTH = 100
# A 256 KiB document holds at most ~130,000 values; more can only come from aliases repeating
# anchors ("billion laughs"), which would blow up every later walk over the data.
MAX_EXPANDED_VALUES = 250_000


class YamlLimit(ValueError):
    """The YAML is well formed but beyond what we read: too deep, self-referencing or too large."""


def too_deep_message() -> str:
    return f"the YAML is too deeply nested (more than {MAX_DEPTH} levels)"


LIMIT_HINT = (
    f"keep lists and mappings under {MAX_DEPTH} levels deep, and use aliases (*name) only for "
    "small shared pieces that do not contain themselves"
)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that measures every node as it is composed and stops at the first bound broken.

    PyYAML's scanner and parser are iterative but its composer recurses once per nesting level,
    so the depth is checked before descending: the recursion never goes past MAX_DEPTH.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        # id(node) -> (height, values once aliases are expanded); nodes stay alive in the tree.
        self._sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise YamlLimit("the YAML refers to itself: an alias (*name) sits inside its own anchor")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimit(too_deep_message())
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        height, count = self._measure(node)
        if self._depth + height > MAX_DEPTH:  # only an alias can bring a deep subtree in here
            raise YamlLimit(too_deep_message())
        if count > MAX_EXPANDED_VALUES:
            raise YamlLimit(f"the YAML expands to more than {MAX_EXPANDED_VALUES} values through aliases")
        return node

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        sizes = [self._sizes[id(c)] for c in children]  # children were composed, so measured
        result = (1 + max((h for h, _ in sizes), default=0), 1 + sum(c for _, c in sizes))
        self._sizes[id(node)] = result
        return result


def load_yaml_all(text: str) -> list[Any]:
    """Every document of `text`, parsed safely within MAX_DEPTH and MAX_EXPANDED_VALUES.

    Raises yaml.YAMLError for malformed YAML, YamlLimit for a bound broken, and ValueError for a
    value PyYAML cannot build (an impossible date such as 2024-13-45).
    """
    return list(yaml.load_all(text, Loader=_BoundedLoader))


def load_yaml(text: str) -> Any:
    docs = load_yaml_all(text)
    if len(docs) > 1:
        raise yaml.YAMLError("expected a single document but found several (separated by ---)")
    return docs[0] if docs else None


def data_depth(data: Any) -> int:
    """How deeply lists and mappings nest in `data`, walked with a stack (never recursion)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: list[Any] = list(value.values())
        elif isinstance(value, (list, tuple)):
            children = list(value)
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break  # deep enough to refuse; no need to walk the rest
        stack.extend((c, depth + 1) for c in children)
    return deepest


def yaml_problem(exc: yaml.YAMLError) -> str:
    """` at line 3, column 5: mapping values are not allowed here` — where and what, for people."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or (str(exc) if type(exc) is yaml.YAMLError else None)
    return f"{where}: {problem or 'it could not be parsed'}"


def parse_mapping(text: str) -> dict[str, Any]:
    """Profile YAML text → a mapping, with the size and depth bounds and readable YAML errors."""
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
    return _require_mapping(_load_profile_text(text))


def _load_profile_text(text: str) -> Any:
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise UserError(
            f"the profile is not valid YAML{yaml_problem(exc)}",
            "check indentation and quoting; in Slack, paste the YAML inside a ``` code block",
            field="yaml",
        ) from None
    except YamlLimit as exc:
        raise UserError(str(exc), LIMIT_HINT, field="yaml") from None
    except (ValueError, OverflowError) as exc:
        raise UserError(
            f"the profile is not valid YAML: a value could not be read ({exc})",
            'quote values that should stay text, e.g. date: "2024-13-45"',
            field="yaml",
        ) from None


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


# --- structural problems, in words --------------------------------------------------------

# The model whose fields an error location points into, by the location without list indexes.
_MODELS: dict[tuple[str, ...], type[BaseModel]] = {}


def _model_at(path: tuple[str, ...]) -> type[BaseModel] | None:
    if not _MODELS:
        _MODELS.update(
            {
                (): Profile,
                ("tiers",): Tier,
                ("tiers", "outputs"): OutputDecl,
                ("tiers", "outputs", "service"): ServiceRef,
                ("tiers", "outputs", "secret"): SecretRef,
                ("tiers", "manifests"): ManifestDoc,
            }
        )
    return _MODELS.get(path)


def _tier_label(index: int, data: Any) -> str:
    tiers = data.get("tiers") if isinstance(data, dict) else None
    tier = tiers[index] if isinstance(tiers, list) and index < len(tiers) else None
    name = tier.get("name") if isinstance(tier, dict) else None
    return name if isinstance(name, str) and name and len(name) <= 63 else f"#{index + 1}"


def _path(parts: tuple[int | str, ...]) -> str:
    """`("outputs", 0, "name")` -> `outputs[0].name`."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _located(loc: tuple[int | str, ...], data: Any) -> tuple[str | None, str, str]:
    """(tier, where for people, form field) of a pydantic location."""
    loc = tuple(p for p in loc if not str(p).startswith("function-"))
    if len(loc) >= 2 and loc[0] == "tiers" and isinstance(loc[1], int):
        tier = _tier_label(loc[1], data)
        rest = _path(loc[2:])
        return (
            tier,
            f"tier {tier}" + (f": {rest}" if rest else ""),
            f"tiers.{tier}" + (f".{rest}" if rest else ""),
        )
    rest = _path(loc)
    return None, rest or "profile", rest or "yaml"


def _words(err: Any) -> tuple[str, str | None]:
    """Pydantic's message for one error, said for people, and a hint when there is one."""
    kind, ctx, given = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "literal_error" and err["loc"][-1] == "type":
        return f"unknown tier type `{given}`", did_you_mean(str(given), TIER_TYPES, what="types")
    fixed: dict[str, str] = {
        "missing": "is required",
        "string_type": f"must be text, not {describe(given)}",
        "dict_type": f"must be {kind_phrase('object')}, not {describe(given)}",
        "model_type": f"must be {kind_phrase('object')}, not {describe(given)}",
        "model_attributes_type": f"must be {kind_phrase('object')}, not {describe(given)}",
        "list_type": f"must be a list, not {describe(given)}",
        "literal_error": f"must be {ctx.get('expected', 'one of the allowed values')}",
        "too_long": f"has {ctx.get('actual_length')} entries; at most {ctx.get('max_length')} are allowed",
        "too_short": f"needs at least {ctx.get('min_length')} entries",
        "string_too_long": f"is longer than {ctx.get('max_length')} characters",
        "string_too_short": "must not be empty",
    }
    return fixed.get(kind, str(err["msg"]).removeprefix("Value error, ")), None


def structure_problems(exc: ValidationError, data: Any) -> list[Problem]:
    """One Problem per pydantic error, naming the tier and field in words."""
    found = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        message, hint = _words(err)
        if err["type"] in ("extra_forbidden", "missing"):
            # Said about the object that lacks or has too much, naming the field itself.
            key = str(loc[-1])
            tier, where, field = _located(loc[:-1], data)
            message = f"unknown field `{key}`" if err["type"] == "extra_forbidden" else f"`{key}` is required"
            model = _model_at(tuple(p for p in loc[:-1] if isinstance(p, str)))
            if err["type"] == "extra_forbidden" and model is not None:
                hint = did_you_mean(key, model.model_fields, what="fields")
        else:
            tier, where, field = _located(loc, data)
        found.append(Problem(f"{where}: {message}", hint, tier, field))
    return found


def build(data: Any) -> tuple[Profile | None, list[Problem]]:
    """A profile from parsed YAML, or None and every structural problem pydantic found."""
    _require_mapping(data)
    if data_depth(data) > MAX_DEPTH:
        raise UserError(too_deep_message(), LIMIT_HINT, field="yaml")
    try:
        return Profile.model_validate(data), []
    except ValidationError as exc:
        return None, structure_problems(exc, data)


def from_data(data: Any) -> Profile:
    """Build a profile from parsed YAML; all structural problems are raised in one InvalidProfile."""
    built, problems = build(data)
    if built is None:
        raise InvalidProfile(problems)
    return built


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
    if load_yaml(text) != data:
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
