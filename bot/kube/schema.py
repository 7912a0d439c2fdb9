"""Offline schema validation of rendered objects (kubernetes-validate's bundled OpenAPI schemas).

Used while planning, so a bad object from a chart or a manifest is refused before any tier is
applied. Kinds without a bundled schema (custom resources) pass: only the cluster knows them.
`kubernetes_validate.validate` re-reads the large definitions file on every call; the validators
here are built once per kind and reused (the package is pinned, so its layout is known).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from kubernetes_validate import utils
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from bot.core.errors import OperatorError

# The newest schema set this release was tested with; older clusters accept the same objects
# for every kind the catalogue renders.
KUBERNETES_VERSION = "1.35.0"
_DIR = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"


_BROKEN_INSTALL = "reinstall the bot with its pinned `kubernetes-validate` package"


@functools.cache
def _definitions() -> Any:
    try:
        return utils.schema_contents(f"{_DIR}/_definitions.json", KUBERNETES_VERSION)
    except (OSError, ValueError, utils.VersionNotSupportedError) as e:
        raise OperatorError(
            f"the Kubernetes {KUBERNETES_VERSION} schemas cannot be read: {getattr(e, 'message', e)}",
            _BROKEN_INSTALL,
        ) from None


@functools.cache
def _validator(kind: str, api_version: str) -> Any:
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as the bundled file names have it
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{_DIR}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None  # no bundled schema: a custom resource, or a kind only the cluster knows
    except (OSError, ValueError, utils.VersionNotSupportedError) as e:
        raise OperatorError(
            f"the Kubernetes schema of {kind} {api_version} cannot be read: {getattr(e, 'message', e)}",
            _BROKEN_INSTALL,
        ) from None
    registry: Registry[Any] = Resource.from_contents(_definitions()) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Human lines for what is wrong with `obj`, empty when it is valid (or has no schema)."""
    validator = _validator(str(obj.get("kind", "")), str(obj.get("apiVersion", "")))
    if validator is None:
        return []
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(obj)))
    except Unresolvable as e:  # a $ref the bundled definitions lack
        raise OperatorError(f"the bundled Kubernetes schemas are incomplete: {e}", _BROKEN_INSTALL) from None
    if error is None:
        return []
    path = ".".join(str(p) for p in error.absolute_path) or "(the object)"
    if obj.get("kind") == "Secret":
        # The failing value may be the secret itself: name the field and the rule only.
        return [f"{path}: does not satisfy `{error.validator}`"]
    return [f"{path}: {error.message[:300]}"]
