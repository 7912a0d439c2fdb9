"""Palette macros (`{{.spectro...}}`, DESIGN §3): a parser and a dictionary lookup, nothing more.

User text is data: a macro is parsed into a path plus a fixed set of filters and looked up in
plain dicts. Nothing is evaluated (no attributes, calls, loops or template engine), so a profile
cannot reach Python objects whatever it contains. Substitution happens in string *values* of
parsed data; mapping keys are left as they are (and `check` rejects a macro in a key), and a
resolved value is never scanned again, so a password containing `{{` stays literal.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from bot.core import model
from bot.core.catalog import Catalog
from bot.core.errors import InvalidProfile, Problem, UserError, did_you_mean, problems_of
from bot.core.model import ManifestDoc, Profile, Tier

SYSTEM_VARIABLES: tuple[str, ...] = (
    "appprofile.name",
    "appprofile.uid",
    "appprofile.version",
    "appdeployment.name",
    "appdeployment.uid",
    "appdeployment.tiername",
    "apptier.name",
    "apptier.uid",
    "cluster.name",
    "user.name",
)
FILTERS: tuple[str, ...] = ("default", "upper", "lower", "quote", "b64enc", "trim")
DATABASE_TYPES: frozenset[str] = frozenset({"postgresql", "mysql", "mongodb", "redis"})
DEPLOYMENT_VARS: tuple[str, ...] = ("$appDeploymentName", "$appdeploymentName")
LEGACY_VAR = "$appDepName-"
DATABASE_PREFIX = "database-"
# NAMESPACE always exists: the caller defaults it to `<deployment>-<tier>-ns`.
IMPLICIT_PARAMS: tuple[str, ...] = ("NAMESPACE",)

_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_SPACE = " \t\r\n"
_ESCAPES = {'"{{"': "{{", '"}}"': "}}"}
_FORMS = (
    "macros are {{.spectro.system.<variable>}} or {{.spectro.app.$appDeploymentName.<tier>.<OUTPUT>}}, "
    'optionally followed by filters (| default "x", | upper, | lower, | quote, | b64enc, | trim); '
    'write a literal {{ as {{"{{"}}'
)


class Context(BaseModel):
    """Everything a macro can resolve to while one tier is rendered."""

    model_config = ConfigDict(frozen=True)

    profile_name: str
    profile_uid: str
    profile_version: str
    deployment_name: str
    deployment_uid: str
    tier_name: str
    tier_uid: str
    # The tier's own `parameters`, already resolved; the caller fills NAMESPACE's default.
    tier_params: dict[str, str]
    cluster_name: str
    user_name: str
    # tier name -> OUTPUT name -> value, for the tiers below this one only. The resolver has no
    # catalogue: put aliases in as keys too (MYSQLMSTR_NS next to MYSQLMSTR_SVC_NAMESPACE).
    outputs: dict[str, dict[str, Any]]
    # True (CLI render, plan): an output not known yet renders as a hole, `<<tier.OUTPUT | filters>>`,
    # filled when that tier has run (`fill_hole`), instead of failing. Each hole made is added to
    # `holes`: only those are ever filled, so text a person wrote that looks like one stays text.
    placeholders: bool = False
    holes: Annotated[set[str], SkipValidation] = Field(default_factory=set, exclude=True)


class Reference(BaseModel):
    """One macro as written. `path` is its dotted path without the leading dot.

    For outputs, `tier` is the tier as written after the `$appDeploymentName.`/`$appDepName-`
    part; a `database-` prefix is kept, because only the profile says whether it is part of the
    name (see `tier_in`).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["output", "system"]
    tier: str | None = None
    output: str | None = None
    path: str
    raw: str

    @property
    def variable(self) -> str:
        """The system variable (`cluster.name`, `apptier.NAMESPACE`); empty for outputs."""
        return self.path.removeprefix("spectro.system.") if self.kind == "system" else ""

    def tier_in(self, tiers: list[str]) -> str | None:
        """The tier among `tiers` this reference names, reading `database-x` as `x` if needed."""
        if self.tier is None:
            return None
        if self.tier in tiers:
            return self.tier
        bare = self.tier.removeprefix(DATABASE_PREFIX)
        if bare != self.tier and bare in tiers:
            return bare
        return None


class _Filter(NamedTuple):
    name: str
    arg: str | None


class _Macro(NamedTuple):
    ref: Reference
    filters: tuple[_Filter, ...]


_Part = str | _Macro


# ---------------------------------------------------------------------------------------------
# Parsing


def _short(raw: str) -> str:
    """A macro as quoted in a message: long ones are cut so the message stays readable."""
    return raw if len(raw) <= 80 else raw[:60] + "…" + raw[-10:]


def _fail(where: str, message: str, hint: str | None = _FORMS) -> UserError:
    return UserError(f"{where}: {message}", hint)


def _close(text: str, start: int, where: str) -> int:
    """Index of the `}}` closing the action that opens at `start - 2`; quotes may hide a `}}`."""
    i, quoted = start, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif text.startswith("}}", i):
            return i
        i += 1
    snippet = text[start - 2 : start + 30]
    raise _fail(where, f"`{snippet}` opens a macro with `{{{{` that is never closed with `}}}}`")


def _split_pipes(body: str) -> list[str]:
    pieces, current, quoted, i = [], [], False, 0
    while i < len(body):
        ch = body[i]
        if quoted and ch == "\\" and i + 1 < len(body):
            current.append(body[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == "|" and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    return [p.strip(_SPACE) for p in pieces]


def _string_literal(text: str, raw: str, where: str) -> str:
    try:
        # `text` starts and ends with a quote, so JSON can only read it as a string.
        value: str = json.loads(text)
        value.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        raise _fail(where, f"`{_short(raw)}` has a malformed quoted string {_short(text)}") from None
    return value


def _parse_filter(piece: str, raw: str, where: str) -> _Filter:
    name, arg = [*piece.split(None, 1), "", ""][:2]
    if name == "default":
        if len(arg) < 2 or not (arg.startswith('"') and arg.endswith('"')):
            raise _fail(where, f'`{_short(raw)}`: `default` takes one quoted value, e.g. | default "x"')
        return _Filter("default", _string_literal(arg, raw, where))
    if name in FILTERS and not arg:
        return _Filter(name, None)
    if name in FILTERS:
        raise _fail(where, f"`{_short(raw)}`: the `{name}` filter takes no argument")
    shown = piece if len(piece) <= 40 else piece[:40] + "…"
    raise _fail(
        where,
        f"`{_short(raw)}` uses `{shown}`, which is not a filter macros support",
        did_you_mean(name, FILTERS, what="filters") + "; nothing else is evaluated",
    )


def _parse_path(operand: str, raw: str, where: str) -> Reference:
    if not operand.startswith("."):
        raise _fail(
            where,
            f"`{_short(raw)}` is not a macro: only `.spectro` paths are looked up, nothing is evaluated",
        )
    segments = operand[1:].split(".")
    for i, seg in enumerate(segments):
        dollar = i == 2 and len(segments) > 2 and segments[1] == "app"
        body = seg[1:] if dollar and seg.startswith("$") else seg
        if not _SEGMENT.fullmatch(body):
            raise _fail(where, f"`{_short(raw)}` has an invalid path segment `{_short(seg)}`")
    path = ".".join(segments)
    if segments[0] != "spectro" or len(segments) < 3:
        raise _fail(where, f"`{_short(raw)}` is not a macro this bot knows")
    if segments[1] == "system":
        return Reference(kind="system", path=path, raw=raw)
    if segments[1] != "app":
        raise _fail(
            where,
            f"`.spectro.{_short(segments[1])}` macros are not available in app profiles ({_short(raw)})",
        )
    var = segments[2]
    if var in DEPLOYMENT_VARS and len(segments) == 5:
        return Reference(kind="output", tier=segments[3], output=segments[4], path=path, raw=raw)
    if var.startswith(LEGACY_VAR) and len(var) > len(LEGACY_VAR) and len(segments) == 4:
        tier = var[len(LEGACY_VAR) :]
        return Reference(kind="output", tier=tier, output=segments[3], path=path, raw=raw)
    raise _fail(
        where,
        f"`{_short(raw)}` is not an output reference",
        "write {{.spectro.app.$appDeploymentName.<tier>.<OUTPUT>}} ($appDeploymentName literally, "
        "it becomes the deployment's name)",
    )


def _parse_action(body: str, raw: str, where: str) -> _Part:
    pieces = _split_pipes(body)
    operand, filters = pieces[0], pieces[1:]
    if not operand:
        raise _fail(where, f"`{_short(raw)}` is empty")
    if operand.startswith('"'):
        if operand in _ESCAPES and not filters:
            return _ESCAPES[operand]
        raise _fail(where, f'`{_short(raw)}`: a quoted string is only allowed as the escape {{{{"{{{{"}}}}')
    return _Macro(_parse_path(operand, raw, where), tuple(_parse_filter(f, raw, where) for f in filters))


def _parse(text: str, where: str) -> list[_Part]:
    """Split a string into literal text and macros; adjacent literals are merged."""
    parts: list[_Part] = []
    literal: list[str] = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:start])
        end = _close(text, start + 2, where)
        part = _parse_action(text[start + 2 : end], text[start : end + 2], where)
        if isinstance(part, str):
            literal.append(part)
        else:
            if any(literal):
                parts.append("".join(literal))
            literal = []
            parts.append(part)
        i = end + 2
    if any(literal):
        parts.append("".join(literal))
    return parts


def references(value: Any, *, where: str = "value") -> list[Reference]:
    """Every macro in the string leaves of `value` (keys are not scanned), in order."""
    return [ref for _, ref in _walk_refs(value, where)]


def _walk_refs(value: Any, where: str) -> Iterator[tuple[str, Reference]]:
    for loc, text in _strings(value, where):
        for part in _parse(text, loc):
            if isinstance(part, _Macro):
                yield loc, part.ref


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


# ---------------------------------------------------------------------------------------------
# Resolving


def _text(value: Any) -> str:
    """A value as it reads inside a larger string (YAML/Go spelling for booleans and null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _apply(value: Any, filters: tuple[_Filter, ...]) -> Any:
    for f in filters:
        if f.name == "default":
            if value is None or value == "":
                value = f.arg
        elif f.name == "upper":
            value = _text(value).upper()
        elif f.name == "lower":
            value = _text(value).lower()
        elif f.name == "trim":
            value = _text(value).strip()
        elif f.name == "quote":
            value = json.dumps(_text(value), ensure_ascii=False)
        else:  # b64enc, the only filter left (the parser admits nothing else)
            value = base64.b64encode(_text(value).encode("utf-8", "surrogatepass")).decode("ascii")
    return value


def _system(ref: Reference, ctx: Context, where: str) -> Any:
    var = ref.variable
    fixed = {
        "appprofile.name": ctx.profile_name,
        "appprofile.uid": ctx.profile_uid,
        "appprofile.version": ctx.profile_version,
        "appdeployment.name": ctx.deployment_name,
        "appdeployment.uid": ctx.deployment_uid,
        "appdeployment.tiername": f"{ctx.deployment_name}-{ctx.tier_name}",
        "apptier.name": ctx.tier_name,
        "apptier.uid": ctx.tier_uid,
        "cluster.name": ctx.cluster_name,
        "user.name": ctx.user_name,
    }
    if var in fixed:
        return fixed[var]
    group, _, param = var.partition(".")
    if group == "apptier" and param in ctx.tier_params:
        return ctx.tier_params[param]
    raise _unknown_system(ref, where, ctx.tier_name, list(ctx.tier_params))


def _unknown_system(ref: Reference, where: str, tier: str, params: list[str]) -> UserError:
    var = ref.variable
    group, _, param = var.partition(".")
    known = list(SYSTEM_VARIABLES) + [f"apptier.{p}" for p in sorted(set(params) | set(IMPLICIT_PARAMS))]
    if group == "apptier" and param and "." not in param:
        return UserError(
            f"{where}: `{_short(ref.raw)}` uses parameter `{_short(param)}`, "
            f"which tier {tier} does not define",
            f"add `{_short(param)}` to the tier's `parameters`, or "
            + did_you_mean(var, known, what="system variables"),
        )
    return UserError(
        f"{where}: `{_short(ref.raw)}` names an unknown system variable `{_short(var)}`",
        did_you_mean(var, known, what="system variables"),
    )


def _output(macro: _Macro, ctx: Context, where: str) -> Any:
    ref = macro.ref
    # Both are set for every output reference.
    assert ref.tier is not None
    assert ref.output is not None
    tier = ref.tier_in(list(ctx.outputs))
    if (tier is None or ref.output not in ctx.outputs[tier]) and ctx.placeholders:
        # The value is unknown until that tier runs: a hole, filled with the filters applied then.
        marker = hole(tier or ref.tier, ref.output, macro.filters)
        ctx.holes.add(marker)
        return marker
    return _output_value(macro, ctx.outputs, ctx.tier_name, where)


def _output_value(macro: _Macro, outputs: Mapping[str, Mapping[str, Any]], tier_name: str, where: str) -> Any:
    ref = macro.ref
    assert ref.tier is not None
    assert ref.output is not None
    tier = ref.tier_in(list(outputs))
    if tier is not None and ref.output in outputs[tier]:
        return _apply(outputs[tier][ref.output], macro.filters)
    if any(f.name == "default" for f in macro.filters):
        return _apply(None, macro.filters)
    if tier is None:
        raise UserError(
            f"{where}: `{_short(ref.raw)}` refers to tier `{_short(ref.tier)}`, which has no outputs here",
            did_you_mean(ref.tier, outputs, what=f"tiers below {tier_name}")
            + "; only tiers below this one that have been deployed publish outputs",
        )
    raise UserError(
        f"{where}: `{_short(ref.raw)}`: tier {tier} has not published an output `{_short(ref.output)}`",
        did_you_mean(ref.output, outputs[tier], what=f"outputs of {tier}"),
    )


# ---------------------------------------------------------------------------------------------
# Holes: what a plan leaves open for the deploy to fill (`bot.core.holes` walks the objects)

HOLE = re.compile(
    r"<<(?:secret:(?P<param>[A-Za-z0-9_]+)"
    r"|(?P<tier>[A-Za-z0-9_-]+)\.(?P<output>[A-Za-z0-9_]+)(?P<filters>(?: \| [^<>|]+)*))>>"
)


def hole(tier: str, output: str, filters: tuple[_Filter, ...] = ()) -> str:
    """The text standing for a lower tier's output in a plan: `<<db.PASSWORD | b64enc>>`."""
    shown = "".join(f" | {f.name}" + (f" {json.dumps(f.arg)}" if f.arg is not None else "") for f in filters)
    return f"<<{tier}.{output}{shown}>>"


def secret_hole(param: str) -> str:
    """The text standing for a tier's own generated secret (a password made at the first deploy)."""
    return f"<<secret:{param}>>"


def fill_hole(
    match: re.Match[str],
    outputs: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, str],
    *,
    tier: str,
    where: str,
) -> Any:
    """The value a hole stands for, now that the tiers below have run (filters applied)."""
    if match["param"] is not None:
        if match["param"] not in secrets:
            raise UserError(f"{where}: no generated value for {match['param']}")
        return secrets[match["param"]]
    raw = match.group(0)
    filters = tuple(_parse_filter(piece, raw, where) for piece in _split_pipes(match["filters"] or "")[1:])
    ref = Reference(kind="output", tier=match["tier"], output=match["output"], path="", raw=raw)
    return _output_value(_Macro(ref, filters), outputs, tier, where)


def as_text(value: Any) -> str:
    """A value as it reads inside a larger string (how a filled hole joins the text around it)."""
    return _text(value)


def _resolve_macro(macro: _Macro, ctx: Context, where: str) -> Any:
    if macro.ref.kind == "system":
        return _apply(_system(macro.ref, ctx, where), macro.filters)
    return _output(macro, ctx, where)


def _resolve_str(text: str, ctx: Context, where: str) -> Any:
    if "{{" not in text:
        return text
    parts = _parse(text, where)
    if len(parts) == 1 and isinstance(parts[0], _Macro):
        return _resolve_macro(parts[0], ctx, where)  # exactly one macro: keep the value's type
    return "".join(p if isinstance(p, str) else _text(_resolve_macro(p, ctx, where)) for p in parts)


def resolve(value: Any, ctx: Context, *, where: str) -> Any:
    """A copy of `value` with macros in its string values substituted; keys are left alone.

    `where` names the location of `value` (e.g. "tier api: properties"); errors extend it with
    the path inside (".env[1].value"). A string that is exactly one macro becomes the resolved
    value itself (an int stays an int); in a longer string values are written as text.
    """
    if isinstance(value, str):
        return _resolve_str(value, ctx, where)
    if isinstance(value, dict):
        return {k: resolve(v, ctx, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, ctx, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


# ---------------------------------------------------------------------------------------------
# Save-time checks


def manifest_documents(tier: str, manifest: ManifestDoc) -> list[Any]:
    """The YAML documents of a manifest entry (empty documents dropped), parsed safely and within
    the nesting bound `model.MAX_DEPTH`."""
    field = f"tiers.{tier}.manifests.{manifest.name}"
    where = f"tier {tier}: manifest `{manifest.name}`"
    try:
        docs = model.load_yaml_all(manifest.content)
    except yaml.YAMLError as exc:
        raise UserError(
            f"{where} is not valid YAML{model.yaml_problem(exc)}",
            'quote values that hold macros, e.g. namespace: "{{.spectro.system.apptier.NAMESPACE}}"',
            field=field,
        ) from None
    except model.YamlLimit as exc:
        raise UserError(f"{where}: {exc}", model.LIMIT_HINT, field=field) from None
    except (ValueError, OverflowError) as exc:
        # PyYAML raises ValueError for a value it cannot build, such as the date 2024-13-45.
        raise UserError(
            f"{where} is not valid YAML: a value could not be read ({exc})",
            'quote values that should stay text, e.g. date: "2024-13-45"',
            field=field,
        ) from None
    return [d for d in docs if d is not None]


def available_outputs(tier: Tier, catalog: Catalog) -> list[str]:
    """What other tiers may read from `tier`: its type's outputs and aliases, plus `outputs:`."""
    names = list(catalog.get(tier.type).output_names()) if tier.type in catalog.services else []
    for decl in tier.outputs:
        if decl.name not in names:
            names.append(decl.name)
    return names


def _fields(tier: Tier, found: list[Problem]) -> Iterator[tuple[str, Any]]:
    """(location, value) of every part of a tier where macros are substituted.

    A manifest that cannot be parsed adds its problem to `found` and is skipped.
    """
    yield "properties", tier.properties
    for key, value in tier.parameters.items():
        yield f"parameters.{key}", value
    for m in tier.manifests:
        try:
            docs = manifest_documents(tier.name, m)
        except UserError as exc:
            found.extend(problems_of(exc, tier=tier.name))
            continue
        for i, doc in enumerate(docs):
            yield (f"manifests.{m.name}[{i}]" if len(docs) > 1 else f"manifests.{m.name}"), doc
    for o in tier.outputs:
        yield f"outputs.{o.name}.value", o.value
        yield f"outputs.{o.name}.service.name", o.service.name if o.service else None
        yield f"outputs.{o.name}.secret.name", o.secret.name if o.secret else None


def _key_problems(value: Any, where: str, tier: str) -> Iterator[Problem]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "{{" in key:
                yield Problem(
                    f"{where}: the key `{_short(key)}` holds a macro; macros are substituted in values only",
                    'move the macro into the value, or escape a literal {{ as {{"{{"}}',
                    tier,
                    _field(where),
                )
            yield from _key_problems(item, f"{where}.{key}", tier)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _key_problems(item, f"{where}[{i}]", tier)


class _Scope(NamedTuple):
    """What a reference in one field of one tier may name."""

    profile: Profile
    catalog: Catalog
    tier: Tier
    below: list[Tier]
    in_parameters: bool


def problems(profile: Profile, catalog: Catalog) -> list[Problem]:
    """Every macro problem in the profile: syntax, and names that do not exist (in tier order)."""
    found: list[Problem] = []
    for k, tier in enumerate(profile.tiers):
        svc = catalog.services.get(tier.type)
        hidden = {f"tier {tier.name}: properties.{p.name}" for p in (svc.params if svc else []) if p.secret}
        for field, value in _fields(tier, found):
            where = f"tier {tier.name}: {field}"
            scope = _Scope(profile, catalog, tier, profile.tiers[:k], field.startswith("parameters."))
            found.extend(_key_problems(value, where, tier.name))
            for loc, text in _strings(value, where):
                found.extend(_string_problems(text, loc, loc in hidden, scope))
    return found


def check(profile: Profile, catalog: Catalog) -> None:
    """Save-time check of every macro in the profile; one InvalidProfile lists all problems.

    Outputs flow upward only, so a tier may read outputs of the tiers below it. Parameters are
    resolved before the rest of the tier, so they may not read `apptier.<PARAM>` themselves.
    """
    found = problems(profile, catalog)
    if found:
        raise InvalidProfile(found)


def _string_problems(text: str, loc: str, secret: bool, scope: _Scope) -> list[Problem]:
    try:
        parts = _parse(text, loc)
    except UserError as exc:
        err = secret_syntax_error(loc) if secret else exc
        return [Problem(err.message, err.hint, scope.tier.name, _field(loc))]
    found = []
    for part in parts:
        if isinstance(part, _Macro):
            try:
                _check_ref(part.ref, loc, scope)
            except UserError as exc:
                found.append(Problem(exc.message, exc.hint, scope.tier.name, exc.field))
    return found


def secret_syntax_error(where: str) -> UserError:
    """A macro error in a secret value, said without quoting any of the value."""
    return UserError(
        f"{where}: the value holds `{{{{` but is not one valid macro (it is secret, so it is not shown)",
        'write a literal {{ as {{"{{"}}, or make the whole value one macro such as '
        "{{.spectro.app.$appDeploymentName.vault.VAULT_ROOT_TOKEN}}",
        field=_field(where),
    )


def resolve_secret(value: Any, ctx: Context, *, where: str) -> Any:
    """`resolve` for a secret value: errors never quote it."""
    try:
        return resolve(value, ctx, where=where)
    except UserError:
        raise secret_syntax_error(where) from None


def _field(where: str) -> str:
    """The form field of a location: `tier api: properties.env[0]` -> `tiers.api.properties.env[0]`."""
    return "tiers." + where.removeprefix("tier ").replace(": ", ".", 1)


def _check_ref(ref: Reference, where: str, scope: _Scope) -> None:
    field, tier = _field(where), scope.tier
    if ref.kind == "system":
        var = ref.variable
        group, _, param = var.partition(".")
        if var in SYSTEM_VARIABLES:
            return
        if group == "apptier" and "." not in param and (param in tier.parameters or param in IMPLICIT_PARAMS):
            if scope.in_parameters:
                raise UserError(
                    f"{where}: `{_short(ref.raw)}` reads a parameter from inside `parameters`",
                    "parameters are resolved first, so they cannot use each other; write the value out",
                    field=field,
                )
            return
        exc = _unknown_system(ref, where, tier.name, list(tier.parameters))
        exc.field = field
        raise exc
    _check_output(ref, where, scope)


def _check_output(ref: Reference, where: str, scope: _Scope) -> None:
    tier, profile, field = scope.tier, scope.profile, _field(where)
    # Both are set for every output reference.
    assert ref.tier is not None
    assert ref.output is not None
    target_name = _target(ref, [t.name for t in profile.tiers], profile)
    below_names = [t.name for t in scope.below]
    if target_name is None:
        raise UserError(
            f"{where} refers to tier `{_short(ref.tier)}`, which is not in this profile",
            did_you_mean(ref.tier, below_names, what=f"tiers below {tier.name}"),
            field=field,
        )
    if target_name == tier.name:
        raise UserError(
            f"{where} refers to its own tier `{tier.name}`; a tier reads outputs of the tiers below it only",
            f"drop the reference, or publish `{_short(ref.output)}` from a tier below {tier.name}",
            field=field,
        )
    if target_name not in below_names:
        raise UserError(
            f"{where} refers to tier `{target_name}`, which is above it; outputs flow upward only — "
            f"move `{target_name}` below `{tier.name}` or drop the reference",
            did_you_mean(ref.tier, below_names, what=f"tiers below {tier.name}"),
            field=field,
        )
    target = profile.tier(target_name)
    outputs = available_outputs(target, scope.catalog)
    if ref.output not in outputs:
        declare = " (declare it under the tier's `outputs:`)" if target.type in ("helm", "manifest") else ""
        raise UserError(
            f"{where} refers to output `{_short(ref.output)}`, which tier {target_name} ({target.type}) "
            f"does not publish{declare}",
            did_you_mean(ref.output, outputs, what=f"outputs of {target_name}"),
            field=field,
        )


def _target(ref: Reference, names: list[str], profile: Profile) -> str | None:
    """The tier a reference names; `database-x` means `x` only when `x` is a database tier."""
    found = ref.tier_in(names)
    if found is not None and found != ref.tier and profile.tier(found).type not in DATABASE_TYPES:
        return None
    return found
