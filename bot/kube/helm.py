"""Render a Helm chart with the real `helm template` (DESIGN §2: helm tiers are applied like the rest).

Each run gets fresh, empty Helm cache/config/data homes, so nothing (repositories, registry
logins written by a previous run, cached charts) leaks from one tier or deployment to another.
Values travel in a temporary file, never on the command line, and are never echoed back.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot import catalog_files
from bot.core.errors import UserError

TIMEOUT_SECONDS = 120.0
MAX_RELEASE = 53  # Helm's own limit on release names
_RELEASE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REMOTE = ("oci://", "https://", "http://")
_MAX_ERROR_LINES = 6
_MASK_MIN = 4  # value strings at least this long are masked in helm's error text


def resolve_chart(chart: str, charts_dir: Path | None = None) -> str:
    """A remote reference as is; an absolute path as is; anything else is a chart under
    `profiles/charts/` and must stay inside it."""
    if chart.startswith(_REMOTE):
        return chart
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
) -> str:
    """`helm template RELEASE CHART --namespace NS [--version V] -f values.yaml` → its stdout."""
    if len(release) > MAX_RELEASE or not _RELEASE_RE.match(release):
        raise UserError(
            f"helm release name `{release}` is not valid: lowercase letters, digits and -, at most "
            f"{MAX_RELEASE} characters",
            "set `releaseName` in the helm tier's properties",
        )
    ref = resolve_chart(chart, charts_dir)
    if os.sep in helm_bin:
        helm_bin = os.path.abspath(helm_bin)  # helm runs in its temporary home, not here
    with tempfile.TemporaryDirectory(prefix="appprofile-helm-") as home:
        values_file = os.path.join(home, "values.yaml")
        with open(values_file, "w", encoding="utf-8") as fh:
            yaml.safe_dump(values, fh, sort_keys=False)
        args = [helm_bin, "template", release, ref, "--namespace", namespace, "-f", values_file]
        if version:
            args += ["--version", version]
        try:
            done = subprocess.run(
                args,
                env=_env(home, env or {}),
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
        except FileNotFoundError:
            # The bot is installed without helm: an operator's problem, not the person's.
            raise RuntimeError(f"helm binary not found at {helm_bin}; set HELM_BIN") from None
    if done.returncode != 0:
        detail = _first_lines(_scrub(done.stderr, values)) or f"exit status {done.returncode}"
        raise UserError(
            f"helm could not render chart `{chart}`"
            + (f" version {version}" if version else "")
            + f":\n{detail}",
            "check the chart reference, its version and the tier's values",
        )
    return done.stdout
