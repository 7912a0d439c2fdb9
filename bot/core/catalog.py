"""The service catalogue: each tier type's parameters, outputs and template (DESIGN §2).

The data lives in `profiles/services/<type>/service.yaml` next to `<type>/template.yaml.j2`;
`bot.catalog_files` reads them into these models. Here it is pure data plus the checks a
tier's `properties` must pass.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.errors import InvalidProfile, NotFound, Problem, describe, did_you_mean, kind_phrase

ParamKind = Literal["string", "integer", "number", "boolean", "list", "object"]


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: ParamKind = "string"
    description: str = ""
    default: Any = None
    required: bool = False
    secret: bool = False
    # A secret left empty is generated at the first deploy, kept in a cluster Secret, and reused.
    generate: bool = False
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    enum: list[Any] | None = None
    pattern: str | None = None
    # What `pattern` accepts, in words, read after "must be": errors show this, never the regex.
    pattern_help: str | None = None

    @model_validator(mode="after")
    def _pattern_is_explained(self) -> Param:
        if self.pattern is not None and not self.pattern_help:
            raise ValueError(
                f"parameter {self.name} has a pattern but no pattern_help saying what it accepts"
            )
        return self


class OutputSource(BaseModel):
    """Where an output's value comes from once the tier is ready.

    Exactly one is set: `value` (a Jinja2 expression over the render context, known before
    deploy), `secret` (`{name, key}` read from a Secret) or `service` (`{name, field}` read from a
    Service's status).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str | None = None
    secret: dict[str, str] | None = None
    service: dict[str, str] | None = None


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    secret: bool = False
    source: OutputSource
    aliases: list[str] = Field(default_factory=list)


class ServiceType(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    title: str
    description: str
    params: list[Param] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    # Jinja2 source of the tier's Kubernetes objects (multi-document YAML); empty for helm/manifest.
    template: str = ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise NotFound(
            f"{self.type} has no parameter `{name}`",
            did_you_mean(name, [p.name for p in self.params], what="parameters"),
        )

    def output_names(self) -> list[str]:
        names: list[str] = []
        for o in self.outputs:
            names.append(o.name)
            names.extend(o.aliases)
        return names


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    services: dict[str, ServiceType]

    def get(self, type_name: str) -> ServiceType:
        try:
            return self.services[type_name]
        except KeyError:
            raise NotFound(
                f"there is no service type `{type_name}`",
                did_you_mean(type_name, self.services, what="types"),
            ) from None

    def names(self) -> list[str]:
        return list(self.services)


_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
}


def one_of(choices: list[Any]) -> str:
    """`14, 15, 16 or 17`."""
    words = [str(c) for c in choices]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _shown(p: Param, value: Any) -> str:
    """A value as quoted in a message; secret ones are never quoted, long ones are cut."""
    if p.secret:
        return "(a secret value, not shown)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:50] + "…" + text[-5:]


def _type_ok(p: Param, value: Any) -> bool:
    if p.kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True  # `version: 16` means "16"
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if p.kind in ("integer", "number"):
        return is_number and isinstance(value, _KIND_TYPES[p.kind])
    return isinstance(value, _KIND_TYPES[p.kind])


def _size_problem(p: Param, value: Any) -> str | None:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if p.minimum is not None and is_number and value < p.minimum:
        return f"is {value}; the smallest allowed is {p.minimum:g}"
    if p.maximum is not None and is_number and value > p.maximum:
        return f"is {value}; the largest allowed is {p.maximum:g}"
    if p.max_length is not None and isinstance(value, str) and len(value) > p.max_length:
        return f"is {len(value)} characters long; at most {p.max_length} are allowed"
    if p.max_length is not None and isinstance(value, list) and len(value) > p.max_length:
        return f"has {len(value)} entries; at most {p.max_length} are allowed"
    return None


def _value_problem(svc: ServiceType, p: Param, value: Any) -> tuple[str, bool] | None:
    """What is wrong with one property value, said after its location, or None when it is fine.

    The flag says whether the parameter's description still helps as a hint; for a refused
    choice or format the message itself already says what is accepted.
    """
    if not _type_ok(p, value):
        return f"must be {kind_phrase(p.kind)}, not {describe(value)}", True
    size = _size_problem(p, value)
    if size is not None:
        return size, True
    # A number given for a text parameter is read as its text (`version: 16` is "16").
    as_text = str(value) if p.kind == "string" else value
    if p.enum is not None and as_text not in p.enum and value not in p.enum:
        return f"is {_shown(p, value)}; {svc.type} {p.name} must be {one_of(p.enum)}", False
    if p.pattern is not None and isinstance(as_text, str) and not re.fullmatch(p.pattern, as_text):
        accepted = p.pattern_help or "in the documented format"
        return f"is {_shown(p, value)}; {svc.type} {p.name} must be {accepted}", False
    return None


def _problem(tier: str, svc: ServiceType, p: Param, text: str, hint: bool = True) -> Problem:
    return Problem(
        f"tier {tier} ({svc.type}): properties.{p.name} {text}",
        (p.description or None) if hint else None,
        tier,
        f"tiers.{tier}.properties.{p.name}",
    )


def _unknown(tier: str, svc: ServiceType, key: str) -> Problem:
    return Problem(
        f"tier {tier} ({svc.type}): properties.{key} is not a {svc.type} property",
        did_you_mean(key, [p.name for p in svc.params], what=f"{svc.type} properties"),
        tier,
        f"tiers.{tier}.properties.{key}",
    )


def property_problems(tier_name: str, svc: ServiceType, properties: dict[str, Any]) -> list[Problem]:
    """Every problem with a tier's properties against its type: unknown ones, then in the type's
    parameter order."""
    known = {p.name for p in svc.params}
    found = [_unknown(tier_name, svc, str(key)) for key in properties if key not in known]
    for p in svc.params:
        value = properties.get(p.name)
        if value is None:
            if p.required:
                found.append(_problem(tier_name, svc, p, "is required"))
            continue
        if isinstance(value, str) and "{{" in value:
            continue  # a macro; its type is known only once resolved, `macros` checks the reference
        wrong = _value_problem(svc, p, value)
        if wrong is not None:
            found.append(_problem(tier_name, svc, p, *wrong))
    return found


def check_properties(tier_name: str, svc: ServiceType, properties: dict[str, Any]) -> dict[str, Any]:
    """Validate a tier's properties against its type; return them with defaults filled in.

    Raises one InvalidProfile listing every problem found, not just the first.
    """
    problems = property_problems(tier_name, svc, properties)
    if problems:
        raise InvalidProfile(problems)
    return {
        p.name: properties[p.name] if properties.get(p.name) is not None else p.default for p in svc.params
    }
