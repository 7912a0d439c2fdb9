"""Building a `KubeCluster` from a kubeconfig context or from the pod's service account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client import rest as k8s_rest
from kubernetes.config.config_exception import ConfigException

from bot.core.errors import UserError, did_you_mean
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


def from_kubeconfig(
    name: str,
    context: str,
    config_file: str | None = None,
    *,
    identity: Identity = None,
    fail_fast: FailFast | None = None,
) -> KubeCluster:
    """One `ApiClient` per cluster, so several contexts can be used side by side."""
    try:
        contexts, _ = _config.list_kube_config_contexts(config_file=config_file)
    except (ConfigException, OSError) as e:
        raise UserError(
            f"cluster {name}: cannot read the kubeconfig ({type(e).__name__})",
            hint="set KUBECONFIG to a readable kubeconfig file that has the cluster's context",
        ) from None
    names = [str(c.get("name")) for c in contexts or []]
    if context not in names:
        raise UserError(
            f"cluster {name}: the kubeconfig has no context `{context}`",
            hint=did_you_mean(context, names, what="contexts"),
        )
    try:
        api = _config.new_client_from_config(
            config_file=config_file, context=context, client_configuration=_configuration()
        )
    except ConfigException as e:
        raise UserError(
            f"cluster {name}: context `{context}` is unusable: {e}",
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
    except ConfigException as e:
        raise UserError(
            f"cluster {name}: not running inside a Kubernetes pod ({e})",
            hint="give the cluster a `context` from the kubeconfig instead",
        ) from None
    api = _impersonating(k8s_client.ApiClient(configuration), identity)
    return KubeCluster(name, api, fail_fast=fail_fast)
