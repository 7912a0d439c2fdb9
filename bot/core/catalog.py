"""The service catalogue: each tier type's parameters, outputs and template (DESIGN §2).

The data lives in `profiles/services/<type>/service.yaml` next to `<type>/template.yaml.j2`;
`bot.catalog_files` reads them into these models. Here it is pure data plus the checks a
tier's `properties` must pass.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.errors import NotFound, UserError, did_you_mean

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


def _check_value(tier: str, svc: ServiceType, p: Param, value: Any) -> None:
    where = f"tier {tier} ({svc.type}): properties.{p.name}"
    if isinstance(value, str) and "{{" in value:
        return  # a macro; its type is known only once resolved, `macros` checks the reference
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
        "list": (list,),
        "object": (dict,),
    }
    ok = isinstance(value, expected[p.kind]) and not (
        p.kind in ("integer", "number") and isinstance(value, bool)
    )
    if p.kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = True  # `version: 16` means "16"
    if not ok:
        raise UserError(f"{where} must be a {p.kind}, not {type(value).__name__}", p.description or None)
    if p.minimum is not None and isinstance(value, (int, float)) and value < p.minimum:
        raise UserError(f"{where} is {value}; the smallest allowed is {p.minimum:g}", p.description or None)
    if p.maximum is not None and isinstance(value, (int, float)) and value > p.maximum:
        raise UserError(f"{where} is {value}; the largest allowed is {p.maximum:g}", p.description or None)
    if p.max_length is not None and isinstance(value, (str, list)) and len(value) > p.max_length:
        raise UserError(f"{where} is too long ({len(value)}); at most {p.max_length}", p.description or None)
    if p.enum is not None and value not in p.enum:
        choices = ", ".join(str(e) for e in p.enum)
        raise UserError(f"{where} is {value!r}; choose one of {choices}", p.description or None)
    if p.pattern is not None and isinstance(value, str):
        import re

        if not re.fullmatch(p.pattern, value):
            raise UserError(f"{where} {value!r} does not match {p.pattern}", p.description or None)


def check_properties(tier_name: str, svc: ServiceType, properties: dict[str, Any]) -> dict[str, Any]:
    """Validate a tier's properties against its type; return them with defaults filled in."""
    known = {p.name: p for p in svc.params}
    for key in properties:
        if key not in known:
            raise UserError(
                f"tier {tier_name} ({svc.type}): unknown property `{key}`",
                did_you_mean(key, known, what=f"{svc.type} properties"),
            )
    merged: dict[str, Any] = {}
    for p in svc.params:
        if p.name in properties and properties[p.name] is not None:
            _check_value(tier_name, svc, p, properties[p.name])
            merged[p.name] = properties[p.name]
        elif p.required:
            raise UserError(
                f"tier {tier_name} ({svc.type}): property `{p.name}` is required",
                p.description or None,
            )
        else:
            merged[p.name] = p.default
    return merged
