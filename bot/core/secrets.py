"""How secrets look when they must be mentioned: masked, and scrubbed out of free text.

A tier's secret properties (a password, an S3 secret key) are masked wherever a profile is
shown; the executor scrubs every secret value it knows out of messages from Kubernetes or Helm.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from bot.core import model
from bot.core.catalog import Catalog
from bot.core.model import Profile

MASK = "••••••"
CHANGED = "•••••• (changed)"
# Shorter values would mask ordinary words ("on", "db") in messages; generated secrets are long.
MIN_SECRET_LENGTH = 4
# A value that is exactly one macro is a reference to a secret, not the secret: safe to show.
_ONE_MACRO = re.compile(r"^\{\{\s*\.spectro\.[A-Za-z0-9_.$-]+\s*\}\}$")


def redact(text: str, values: Iterable[str], *, min_length: int = MIN_SECRET_LENGTH) -> str:
    """Replace every known secret value in `text`, longest first (a value may contain another)."""
    for v in sorted({v for v in values if v and len(v) >= min_length}, key=len, reverse=True):
        text = text.replace(v, MASK)
    return text


def secret_params(catalog: Catalog, tier_type: str) -> set[str]:
    svc = catalog.services.get(tier_type)
    return {p.name for p in svc.params if p.secret} if svc else set()


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_ONE_MACRO.match(value.strip()))


def given_values(
    profile: Profile, catalog: Catalog, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> set[str]:
    """The secret property values people wrote into the profile (or passed with --set)."""
    out: set[str] = set()
    for tier in profile.tiers:
        props = {**tier.properties, **(overrides or {}).get(tier.name, {})}
        for key in secret_params(catalog, tier.type):
            value = props.get(key)
            if value not in (None, "") and not is_reference(value):
                out.add(str(value))
    return out


def secret_outputs(profile: Profile, catalog: Catalog) -> dict[str, set[str]]:
    """Per tier, the outputs that carry a secret (a catalogue output marked secret, its aliases,
    or a helm/manifest output read from a Secret)."""
    out: dict[str, set[str]] = {}
    for tier in profile.tiers:
        if tier.type in ("helm", "manifest"):
            out[tier.name] = {d.name for d in tier.outputs if d.secret is not None}
            continue
        svc = catalog.services.get(tier.type)
        names: set[str] = set()
        for o in svc.outputs if svc else []:
            if o.secret:
                names.update((o.name, *o.aliases))
        out[tier.name] = names
    return out


def manifest_secrets(profile: Profile) -> bool:
    """Whether a manifest tier writes literal values (not macros) into a Secret's data."""
    for tier in profile.tiers:
        for m in tier.manifests:
            if "kind: Secret" not in m.content and '"kind": "Secret"' not in m.content:
                continue
            try:
                docs = model.load_yaml_all(m.content)
            except (yaml.YAMLError, ValueError):
                continue  # validation reports the broken manifest itself
            for doc in docs:
                if isinstance(doc, dict) and doc.get("kind") == "Secret":
                    values = [*(doc.get("data") or {}).values(), *(doc.get("stringData") or {}).values()]
                    if any(v not in (None, "") and not is_reference(v) for v in values):
                        return True
    return False


def mask_data(data: Any, catalog: Catalog, *, changed: frozenset[tuple[str, str]] = frozenset()) -> Any:
    """A copy of a profile mapping with secret properties masked (`changed` ones marked so)."""
    data = copy.deepcopy(data)
    tiers = data.get("tiers") if isinstance(data, dict) else None
    for tier in tiers if isinstance(tiers, list) else []:
        if not isinstance(tier, dict) or not isinstance(tier.get("properties"), dict):
            continue
        props = tier["properties"]
        for key in secret_params(catalog, str(tier.get("type"))):
            value = props.get(key)
            if value not in (None, "") and not is_reference(value):
                props[key] = CHANGED if (str(tier.get("name")), key) in changed else MASK
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def mask_yaml(text: str, catalog: Catalog) -> str:
    """Profile YAML with its secret properties masked; the text as is when nothing is secret."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # stored YAML always parses; a fragment that does not is shown as is
    masked = mask_data(data, catalog)
    return text if masked == data else _dump(masked)


def masked_pair(before: str, after: str, catalog: Catalog) -> tuple[str, str]:
    """Two versions' YAML masked for a diff: a secret that changed shows as changed, not equal."""
    a, b = yaml.safe_load(before), yaml.safe_load(after)

    def values(data: Any) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        for tier in (data or {}).get("tiers") or []:
            for key in secret_params(catalog, str(tier.get("type"))):
                out[(str(tier.get("name")), key)] = (tier.get("properties") or {}).get(key)
        return out

    old, new = values(a), values(b)
    changed = frozenset(k for k in new if k in old and new[k] != old[k])
    return _dump(mask_data(a, catalog)), _dump(mask_data(b, catalog, changed=changed))


def unmask(data: dict[str, Any], source: Profile, catalog: Catalog) -> dict[str, Any]:
    """A form prefilled with masked YAML comes back with `••••••` where a secret was: keep the
    source version's value there. A mask with nothing to stand for is an error for the person."""
    from bot.core.errors import UserError

    before: dict[tuple[str, str], dict[str, Any]] = {
        (t.name, str(t.type)): t.properties for t in source.tiers
    }
    for tier in data.get("tiers") or []:
        if not isinstance(tier, dict) or not isinstance(tier.get("properties"), dict):
            continue
        props = tier["properties"]
        for key, value in list(props.items()):
            if value not in (MASK, CHANGED):
                continue
            old = before.get((str(tier.get("name")), str(tier.get("type"))), {})
            if key not in old:
                raise UserError(
                    f"tier {tier.get('name')}: properties.{key} is masked, but there is no earlier value to keep",
                    "type the secret, or remove the line to have it generated at the first deploy",
                    field="yaml",
                )
            props[key] = old[key]
    return data
