"""Building a `KubeCluster` from a kubeconfig context or from the pod's service account.

Whatever goes wrong here is the bot's setup (a kubeconfig, a context, a mounted token), so it
leaves as an `OperatorError`: logged in full for the operator, never shown to the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import rest as k8s_rest
from kubernetes.config.config_exception import ConfigException

from bot.core.errors import OperatorError, did_you_mean
from bot.core.readiness import FailFast
from bot.kube.cluster import KubeCluster

# The client's config module is untyped; it is used through this Any-typed name only.
_config: Any = k8s_config


# (user, groups) to impersonate on every request; None: the credentials' own identity.
Identity = tuple[str, Sequence[str]] | None


class _ImpersonatingRest(k8s_rest.RESTClientObject):
    """Adds `Impersonate-User` and one `Impersonate-Group` header per group to every request.

    The client's default headers hold one value per name, and a comma-joined value would name one
    group called "a, b"; urllib3's HTTPHeaderDict sends repeated headers, as the API server wants.
    """

    def __init__(self, configuration: k8s_client.Configuration, identity: tuple[str, Sequence[str]]) -> None:
        super().__init__(configuration)
        self._identity = identity

    def request(self, method: str, url: str, headers: Any = None, *args: Any, **kwargs: Any) -> Any:
        merged = urllib3.HTTPHeaderDict(headers or {})
        user, groups = self._identity
        merged["Impersonate-User"] = user
        for group in groups:
            merged.add("Impersonate-Group", group)
        parent: Any = super().request  # the client's REST layer is untyped
        return parent(method, url, merged, *args, **kwargs)


def _impersonating(api: k8s_client.ApiClient, identity: Identity) -> k8s_client.ApiClient:
    if identity is not None:
        api.rest_client = _ImpersonatingRest(api.configuration, identity)
    return api


def _configuration() -> k8s_client.Configuration:
    configuration = k8s_client.Configuration()
    # urllib3 would otherwise retry a timed-out GET three times on its own, quadrupling the wait
    # behind `KubeCluster`'s request timeout; `KubeCluster` does the retrying, with backoff.
    configuration.retries = 0
    return configuration


# What reading a kubeconfig raises: the client's own error, unreadable files (a missing
# certificate too), malformed YAML, and the type errors of a file shaped unlike a kubeconfig.
_KUBECONFIG_ERRORS = (
    ConfigException,
    OSError,
    yaml.YAMLError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
)


def _why(e: BaseException) -> str:
    """The failure in words for the operator's log, without a library's class name."""
    if isinstance(e, OSError):
        return f"{e.strerror or e} ({e.filename})" if e.filename else str(e.strerror or e)
    if isinstance(e, ConfigException | yaml.YAMLError):
        return str(e)
    return "it is not shaped like a kubeconfig"


def from_kubeconfig(
    name: str,
    context: str,
    config_file: str | None = None,
    *,
    identity: Identity = None,
    fail_fast: FailFast | None = None,
) -> KubeCluster:
    """One `ApiClient` per cluster, so several contexts can be used side by side. A kubeconfig
    that cannot be read, or lacks the context, is the operator's to fix: `OperatorError`."""
    where = config_file or "(the default kubeconfig)"
    try:
        contexts, _ = _config.list_kube_config_contexts(config_file=config_file)
    except _KUBECONFIG_ERRORS as e:
        raise OperatorError(
            f"cluster {name}: cannot read the kubeconfig {where}: {_why(e)}",
            hint="set KUBECONFIG to a readable kubeconfig file that has the cluster's context",
        ) from None
    names = [str(c.get("name")) for c in contexts or [] if isinstance(c, dict)]
    if context not in names:
        raise OperatorError(
            f"cluster {name}: the kubeconfig {where} has no context `{context}`",
            hint=did_you_mean(context, names, what="contexts")
            + "; fix the cluster's `context` in the bot's config, or KUBECONFIG",
        )
    try:
        api = _config.new_client_from_config(
            config_file=config_file, context=context, client_configuration=_configuration()
        )
    except _KUBECONFIG_ERRORS as e:
        raise OperatorError(
            f"cluster {name}: context `{context}` of {where} is unusable: {_why(e)}",
            hint="check the context's cluster and user entries in the kubeconfig",
        ) from None
    return KubeCluster(name, _impersonating(api, identity), fail_fast=fail_fast)


def from_in_cluster(
    name: str, *, identity: Identity = None, fail_fast: FailFast | None = None
) -> KubeCluster:
    """The service account mounted into the bot's own pod."""
    configuration = _configuration()
    try:
        _config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as e:
        raise OperatorError(
            f"cluster {name}: not running inside a Kubernetes pod ({_why(e)})",
            hint="give the cluster a `context` from the kubeconfig instead",
        ) from None
    api = _impersonating(k8s_client.ApiClient(configuration), identity)
    return KubeCluster(name, api, fail_fast=fail_fast)
