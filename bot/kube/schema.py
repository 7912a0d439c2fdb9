"""Offline schema validation of rendered objects (kubernetes-validate's bundled OpenAPI schemas).

Used while planning, so a bad object from a chart or a manifest is refused before any tier is
applied. Kinds without a bundled schema (custom resources) pass: only the cluster knows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes_validate

# The newest schema set this release was tested with; older clusters accept the same objects
# for every kind the catalogue renders.
KUBERNETES_VERSION = "1.35.0"


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Human lines for what is wrong with `obj`, empty when it is valid (or has no schema)."""
    try:
        kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return []
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "(the object)"
        if obj.get("kind") == "Secret":
            # The failing value may be the secret itself: name the field and the rule only.
            return [f"{path}: does not satisfy `{exc.validator}`"]
        return [f"{path}: {exc.message[:300]}"]
    return []
