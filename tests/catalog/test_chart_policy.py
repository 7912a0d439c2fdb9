"""The default chart policy and `guardrails.charts` globs: which chart sources a profile may make
the bot fetch. No helm and no DNS needed: the resolver is injected."""

from __future__ import annotations

import pytest

from bot.core.errors import UserError
from bot.kube import helm


def _dns(table: dict[str, list[str]]) -> helm.Resolver:
    return lambda host: table.get(host, [])


@pytest.mark.parametrize(
    ("chart", "why"),
    [
        ("http://charts.example.com/web-1.0.0.tgz", "only https:// and oci://"),
        ("file:///etc/passwd", "only https:// and oci://"),
        ("/srv/charts/web", "only https:// and oci://"),
        ("https://127.0.0.1:8443/web-1.0.0.tgz", "resolves to 127.0.0.1"),
        ("https://metadata.internal/web.tgz", "resolves to 169.254.169.254"),
        ("oci://registry.corp/charts/web", "resolves to 10.0.0.7"),
        ("https://[::1]/web.tgz", "resolves to ::1"),
        ("https://nowhere.invalid/web.tgz", "does not resolve"),
    ],
)
def test_default_chart_policy_refuses_local_and_private_sources(chart: str, why: str) -> None:
    dns = _dns(
        {
            "127.0.0.1": ["127.0.0.1"],
            "metadata.internal": ["169.254.169.254"],
            "registry.corp": ["10.0.0.7"],
            "::1": ["::1"],
        }
    )
    with pytest.raises(UserError) as err:
        helm.check_source(chart, (), dns)
    assert why in err.value.message
    assert err.value.hint is not None and "guardrails.charts" in err.value.hint


def test_default_chart_policy_allows_public_registries_and_own_charts() -> None:
    dns = _dns({"ghcr.io": ["140.82.112.34"], "charts.example.com": ["93.184.216.34", "2606:2800:220:1::"]})
    helm.check_source("oci://ghcr.io/acme/charts/web", (), dns)
    helm.check_source("https://charts.example.com/web-1.0.0.tgz", (), dns)
    helm.check_source("web", (), dns)  # the bot's own chart folder


def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    dns = _dns({"mixed.example.com": ["93.184.216.34", "192.168.1.5"]})
    with pytest.raises(UserError, match=r"resolves to 192\.168\.1\.5"):
        helm.check_source("https://mixed.example.com/web.tgz", (), dns)


def test_globs_allow_exactly_what_they_list() -> None:
    allowed = ["http://127.0.0.1:*/*.tgz", "oci://ghcr.io/acme/*"]
    helm.check_source("http://127.0.0.1:8080/evil-1.0.0.tgz", allowed, _dns({}))
    helm.check_source("oci://ghcr.io/acme/web", allowed, _dns({}))
    with pytest.raises(UserError, match="not in this cluster's allowed chart sources"):
        helm.check_source("oci://ghcr.io/other/web", allowed, _dns({}))
    with pytest.raises(UserError, match="not in this cluster's allowed chart sources"):
        helm.check_source("web", allowed, _dns({}))
