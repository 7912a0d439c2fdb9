"""Everything a profile must satisfy before it is saved (DESIGN §2), beyond its own structure.

`model` checks shape and bounds when the profile is built; here each tier's properties are
checked against its service type, manifest tiers must say where their objects go, and every
macro must name something that exists below it. All problems are collected and raised together
in one InvalidProfile, so a person fixes a profile in one round trip, not one error at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.core import macros, model
from bot.core.catalog import Catalog, property_problems
from bot.core.errors import InvalidProfile, Problem, UserError, did_you_mean, problems_of
from bot.core.model import Profile, Tier

NAMESPACE_HINT = (
    'set metadata.namespace: "{{.spectro.system.apptier.NAMESPACE}}" in the object, '
    "or give the tier `parameters: {NAMESPACE: ...}`"
)


def profile(profile: Profile | dict[str, Any], catalog: Catalog) -> Profile:
    """Check a profile (or its parsed YAML) and return it; raise one InvalidProfile for all problems.

    Given parsed YAML whose structure is wrong, the properties of every well-formed tier are
    checked too, so structural and property problems come back together. Macro references need
    the whole structure, so they are checked only once it is sound.
    """
    built: Profile | None
    found: list[Problem] = []
    if isinstance(profile, Profile):
        built = profile
    else:
        built, found = model.build(profile)
    if built is None:
        found += _raw_property_problems(profile, catalog)
    else:
        found += problems(built, catalog)
    if found:
        raise InvalidProfile(found)
    assert built is not None  # no problems means the structure was sound
    return built


def problems(profile: Profile, catalog: Catalog) -> list[Problem]:
    """Every problem of a structurally sound profile: properties, namespaces, then macros."""
    found: list[Problem] = []
    for tier in profile.tiers:
        found += _tier_problems(tier, catalog)
    return found + macros.problems(profile, catalog)


def _tier_problems(tier: Tier, catalog: Catalog) -> list[Problem]:
    svc = catalog.services.get(tier.type)
    if svc is None:
        return [
            Problem(
                f"tier {tier.name}: there is no service type `{tier.type}`",
                did_you_mean(tier.type, catalog.services, what="types"),
                tier.name,
                f"tiers.{tier.name}.type",
            )
        ]
    found = property_problems(tier.name, svc, tier.properties)
    if tier.type == "manifest":
        found += _namespace_problems(tier)
    return found


def _raw_property_problems(data: Any, catalog: Catalog) -> list[Problem]:
    """Property problems of the tiers in unvalidated data that are well-formed enough to check."""
    tiers = data.get("tiers") if isinstance(data, dict) else None
    found: list[Problem] = []
    for tier in tiers if isinstance(tiers, list) else []:
        if not isinstance(tier, dict):
            continue
        name, kind, props = tier.get("name"), tier.get("type"), tier.get("properties", {})
        svc = catalog.services.get(kind) if isinstance(kind, str) else None
        if isinstance(name, str) and svc is not None and isinstance(props, dict):
            found += property_problems(name, svc, props)
    return found


def _namespace_problems(tier: Tier) -> list[Problem]:
    """Every object names its namespace, unless `parameters.NAMESPACE` gives one for all."""
    found: list[Problem] = []
    for manifest in tier.manifests:
        try:
            docs = macros.manifest_documents(tier.name, manifest)
        except UserError as exc:
            found += problems_of(exc, tier=tier.name)
            continue
        found.extend(_manifest_problems(tier, manifest.name, docs))
    return found


def _manifest_problems(tier: Tier, manifest: str, docs: list[Any]) -> Iterator[Problem]:
    field = f"tiers.{tier.name}.manifests.{manifest}"
    if not docs:
        yield Problem(
            f"tier {tier.name}: manifest `{manifest}` holds no Kubernetes object",
            "put at least one object (apiVersion, kind, metadata) in it, or remove the entry",
            tier.name,
            field,
        )
    default = bool(tier.parameters.get("NAMESPACE", "").strip())
    for i, doc in enumerate(docs, start=1):
        which = f"manifest `{manifest}`" + (f", document {i}," if len(docs) > 1 else "")
        if not isinstance(doc, dict):
            yield Problem(
                f"tier {tier.name}: {which} is not a Kubernetes object "
                "(a mapping with apiVersion, kind and metadata)",
                "each YAML document in a manifest is one object; separate objects with ---",
                tier.name,
                field,
            )
            continue
        meta = doc.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        namespace = meta.get("namespace")
        if default or (isinstance(namespace, str) and namespace.strip()):
            continue
        label = f"{doc.get('kind', 'object')} {meta.get('name', '')}".strip()
        yield Problem(
            f"tier {tier.name}: {which} {label} names no namespace", NAMESPACE_HINT, tier.name, field
        )
