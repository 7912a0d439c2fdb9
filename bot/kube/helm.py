"""Render a Helm chart with the real `helm template` (DESIGN §2: helm tiers are applied like the rest).

Each run gets fresh, empty Helm cache/config/data homes, so nothing (repositories, registry
logins written by a previous run, cached charts) leaks from one tier or deployment to another.
Values travel in a temporary file, never on the command line, and are never echoed back.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import socket
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot import catalog_files
from bot.core.errors import OperatorError, UserError

TIMEOUT_SECONDS = 120.0
MAX_RELEASE = 53  # Helm's own limit on release names
_RELEASE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REMOTE = ("oci://", "https://", "http://")
# What the default chart policy lets a profile fetch: TLS or OCI registries on public addresses.
_PUBLIC_SCHEMES = ("oci://", "https://")
# host -> the addresses it resolves to (injectable so tests need no DNS).
Resolver = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):  # gaierror and the like: a host that does not resolve
        return []
    return sorted({str(info[4][0]) for info in infos})


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_source(chart: str, allowed: Sequence[str] = (), resolve: Resolver = _resolve) -> None:
    """The chart policy (`guardrails.charts`): with globs, only what they list; without, the bot's
    own charts and https:// or oci:// references whose host resolves only to public addresses —
    never http://, file:// or a path on the bot's host, which would let a profile make the bot
    fetch from its own network (SSRF) or read its own disk."""
    if allowed:
        if any(fnmatch.fnmatchcase(chart, g) for g in allowed):
            return
        raise UserError(
            f"chart `{chart}` is not in this cluster's allowed chart sources ({', '.join(allowed)})",
            "use an allowed chart, or ask a platform admin to add it to the cluster's guardrails.charts",
        )
    if not chart.startswith(_REMOTE) and "://" not in chart and not Path(chart).is_absolute():
        return  # one of the bot's own charts; resolve_chart keeps it inside profiles/charts
    if not chart.startswith(_PUBLIC_SCHEMES):
        raise UserError(
            f"chart `{chart}` is refused: only https:// and oci:// chart references (or the bot's own "
            "charts) are allowed by default",
            "publish the chart to an https:// repository or an OCI registry, or ask a platform admin "
            "to allow this source in the cluster's guardrails.charts",
        )
    host = urlsplit(chart).hostname or ""
    addresses = resolve(host) if host else []
    private = [a for a in addresses if not _public(a)]
    if not addresses or private:
        why = f"resolves to {', '.join(private)}" if private else "does not resolve"
        raise UserError(
            f"chart `{chart}` is refused: its host `{host}` {why}, and charts may come only from "
            "public addresses by default",
            "ask a platform admin to allow this source in the cluster's guardrails.charts",
        )


_MAX_ERROR_LINES = 6
_MASK_MIN = 4  # value strings at least this long are masked in helm's error text


def resolve_chart(chart: str, charts_dir: Path | None = None) -> str:
    """A remote reference as is; an absolute path as is (the chart policy has allowed both);
    anything else is a chart under `profiles/charts/` and must stay inside it."""
    if chart.startswith(_REMOTE) or chart.startswith("file://"):
        return chart.removeprefix("file://")
    path = Path(chart)
    if path.is_absolute():
        if not path.exists():
            raise UserError(
                f"chart `{chart}` does not exist", "give a chart folder, an oci:// reference or a URL"
            )
        return str(path)
    base = (charts_dir or catalog_files.charts_dir()).resolve()
    candidate = (base / chart).resolve()
    if not candidate.is_relative_to(base) or not candidate.exists():
        available = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        raise UserError(
            f"there is no chart `{chart}` in the bot's charts",
            f"local charts: {', '.join(available) or 'none'}; or use oci://registry/path/chart "
            "or the https:// URL of a chart archive",
        )
    return str(candidate)


def _env(home: str, base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k in ("PATH", "HOME") or k.startswith("HELM_")}
    env.update(
        {
            "HELM_CACHE_HOME": os.path.join(home, "cache"),
            "HELM_CONFIG_HOME": os.path.join(home, "config"),
            "HELM_DATA_HOME": os.path.join(home, "data"),
        }
    )
    env.setdefault("HOME", home)
    return env


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _scrub(text: str, values: dict[str, Any]) -> str:
    # Values may hold secrets resolved from lower tiers; helm sometimes quotes them in errors.
    for s in sorted(set(_strings(values)), key=len, reverse=True):
        if len(s) >= _MASK_MIN:
            text = text.replace(s, "••••")
    return text


def _first_lines(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    shown = "\n".join(lines[:_MAX_ERROR_LINES])
    return shown + ("\n…" if len(lines) > _MAX_ERROR_LINES else "")


def template(
    chart: str,
    *,
    release: str,
    namespace: str,
    version: str | None,
    values: dict[str, Any],
    helm_bin: str,
    charts_dir: Path | None = None,
    timeout: float = TIMEOUT_SECONDS,
    env: Mapping[str, str] | None = None,
    allowed: Sequence[str] = (),
    resolve: Resolver = _resolve,
) -> str:
    """`helm template RELEASE CHART --namespace NS [--version V] -f values.yaml` → its stdout,
    after the chart policy (`allowed`: the cluster's guardrails.charts) let the source through."""
    if len(release) > MAX_RELEASE or not _RELEASE_RE.match(release):
        raise UserError(
            f"helm release name `{release}` is not valid: lowercase letters, digits and -, at most "
            f"{MAX_RELEASE} characters",
            "set `releaseName` in the helm tier's properties",
        )
    check_source(chart, allowed, resolve)
    ref = resolve_chart(chart, charts_dir)
    if os.sep in helm_bin:
        helm_bin = os.path.abspath(helm_bin)  # helm runs in its temporary home, not here
    args = [helm_bin, "template", release, ref, "--namespace", namespace]
    if version:
        args += ["--version", version]
    done = _run_helm(args, chart, values, timeout=timeout, env=env or {})
    if done.returncode != 0:
        detail = _first_lines(_scrub(done.stderr, values)) or f"exit status {done.returncode}"
        raise UserError(
            f"helm could not render chart `{chart}`"
            + (f" version {version}" if version else "")
            + f":\n{detail}",
            "check the chart reference, its version and the tier's values",
        )
    return done.stdout


def _run_helm(
    args: list[str], chart: str, values: dict[str, Any], *, timeout: float, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """helm with the values in a file of a fresh home. A helm that cannot be run, or a home that
    cannot be made, is the bot's setup (`OperatorError`); a chart too slow to fetch, the person's."""
    try:
        with tempfile.TemporaryDirectory(prefix="appprofile-helm-") as home:
            values_file = os.path.join(home, "values.yaml")
            with open(values_file, "w", encoding="utf-8") as fh:
                yaml.safe_dump(values, fh, sort_keys=False)
            return subprocess.run(
                [*args, "-f", values_file],
                env=_env(home, env),
                cwd=home,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
    except subprocess.TimeoutExpired:
        raise UserError(
            f"helm template of chart `{chart}` did not finish within {timeout:g} s",
            "check that the chart's registry is reachable from the bot",
        ) from None
    except FileNotFoundError as e:
        if e.filename != args[0]:
            raise OperatorError(f"cannot prepare helm's temporary home: {e.strerror}") from None
        raise OperatorError(
            f"helm binary not found at {args[0]}", "set HELM_BIN to the helm executable, or put helm on PATH"
        ) from None
    except OSError as e:  # not executable, not a binary for this machine, temp dir unwritable
        raise OperatorError(
            f"cannot run helm at {args[0]}: {e.strerror or e}",
            "set HELM_BIN to a helm executable for this machine, and check TMPDIR is writable",
        ) from None
