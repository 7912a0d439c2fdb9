"""Everything a profile must satisfy before it is saved (DESIGN §2), beyond its own structure.

`model` checks shape and bounds when the profile is built; here each tier's properties are
checked against its service type, manifest tiers must say where their objects go, and every
macro must name something that exists below it.
"""

from __future__ import annotations

from bot.core import macros
from bot.core.catalog import Catalog, ServiceType, check_properties
from bot.core.errors import NotFound, UserError
from bot.core.model import Profile, Tier


def profile(profile: Profile, catalog: Catalog) -> None:
    """Raise one UserError for the first problem found, naming the tier and field."""
    for tier in profile.tiers:
        check_properties(tier.name, _service(tier, catalog), tier.properties)
        if tier.type == "manifest":
            _namespaces(tier)
    macros.check(profile, catalog)


def _service(tier: Tier, catalog: Catalog) -> ServiceType:
    try:
        return catalog.get(tier.type)
    except NotFound as exc:
        raise NotFound(
            f"tier {tier.name}: {exc.message}", exc.hint, field=f"tiers.{tier.name}.type"
        ) from None


def _namespaces(tier: Tier) -> None:
    """Every object names its namespace, unless `parameters.NAMESPACE` gives one for all."""
    default = bool(tier.parameters.get("NAMESPACE", "").strip())
    for manifest in tier.manifests:
        docs = macros.manifest_documents(tier.name, manifest)
        field = f"tiers.{tier.name}.manifests.{manifest.name}"
        if not docs:
            raise UserError(
                f"tier {tier.name}: manifest `{manifest.name}` holds no Kubernetes object",
                "put at least one object (apiVersion, kind, metadata) in it, or remove the entry",
                field=field,
            )
        for i, doc in enumerate(docs, start=1):
            which = f"manifest `{manifest.name}`" + (f", document {i}," if len(docs) > 1 else "")
            if not isinstance(doc, dict):
                raise UserError(
                    f"tier {tier.name}: {which} is not a Kubernetes object "
                    "(a mapping with apiVersion, kind and metadata)",
                    "each YAML document in a manifest is one object; separate objects with ---",
                    field=field,
                )
            meta = doc.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            namespace = meta.get("namespace")
            if default or (isinstance(namespace, str) and namespace.strip()):
                continue
            label = f"{doc.get('kind', 'object')} {meta.get('name', '')}".strip()
            raise UserError(
                f"tier {tier.name}: {which} {label} names no namespace",
                'set metadata.namespace: "{{.spectro.system.apptier.NAMESPACE}}" in the object, '
                "or give the tier `parameters: {NAMESPACE: ...}`",
                field=field,
            )
