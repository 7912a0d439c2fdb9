"""Planning a 50-tier, 500-macro profile vs `helm template` of the very objects the plan produced.

Ours: `bot.core.plan.build` as the service calls it — every object checked against the Kubernetes
schema (`bot.kube.schema.problems`) and the cluster's default guardrails (kind scope from the
offline built-in table `appprofile render --cluster` uses; namespace owners answered without I/O,
their reads are counted by the requests figure).

Baseline: a throwaway local chart whose templates are exactly those objects, one template file
each, with every value that a macro produced (the 500 env values, or the Secret keys holding
them) taken from `.Values`, so helm substitutes 500 values, renders one template per object and parses
and sorts the result, as it does for any chart. Its output is parsed and compared with our objects
before anything is timed: both sides produce the same objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench import profiles
from bench.common import Figure, helm_binary, rotated
from bot import catalog_files, compose
from bot.core import guardrails, plan, policy
from bot.kube import kinds, schema
from bot.settings import ClusterSettings

ROUNDS = 5


def _guard() -> plan.Guard:
    return plan.Guard(
        rails=policy.Guardrails(),
        scope=kinds.scope,
        owner=lambda _ns: guardrails.Ownership(exists=False),
    )


def _templated(objs: list[dict[str, Any]], names: set[str]) -> tuple[list[str], dict[str, str]]:
    """Each object as template text; values from macros become `{{ .Values.vN | quote }}`."""
    values: dict[str, str] = {}

    def token(value: str) -> str:
        key = f"v{len(values):03d}"
        values[key] = value
        return f"BENCHVALUE{key}"

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if out.get("name") in names and isinstance(out.get("value"), str):
                out["value"] = token(node["value"])
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    texts = []
    for obj in objs:
        o = walk(obj)
        if o.get("kind") == "Secret":
            data = o.get("stringData") or {}
            o["stringData"] = {k: token(v) if k in names else v for k, v in data.items()}
        text = yaml.safe_dump(o, sort_keys=False, width=10_000)
        for key in values:
            text = text.replace(f"BENCHVALUE{key}", f"{{{{ .Values.{key} | quote }}}}")
        texts.append(text)
    return texts, values


def _chart(root: Path, objs: list[dict[str, Any]], names: set[str]) -> tuple[Path, Path, int]:
    chart = root / "bench-chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench-chart\nversion: 0.1.0\n")
    texts, values = _templated(objs, names)
    for i, (obj, text) in enumerate(zip(objs, texts, strict=True)):
        (chart / "templates" / f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml").write_text(
            text
        )
    (chart / "values.yaml").write_text("{}\n")
    given = root / "values.yaml"
    given.write_text(yaml.safe_dump(values, width=10_000))
    return chart, given, len(values)


def _canonical(objs: list[Any]) -> list[str]:
    return sorted(json.dumps(o, sort_keys=True) for o in objs)


def run() -> list[Figure]:
    profile = profiles.wide()
    catalog = catalog_files.load()
    target = plan.Target(cluster="dev-cluster", deployment="wide", user="bench")
    helm = helm_binary()
    charts = compose.chart_renderer(
        ClusterSettings(helm_bin=helm or "helm")
    )  # the profile has no helm tier: never called
    guard = _guard()

    def ours() -> plan.Plan:
        return plan.build(profile, catalog, target, charts=charts, check=schema.problems, guard=guard)

    p = ours()
    objs = [obj for t in p.tiers for obj in t.objects]
    macro_envs = {e["name"] for t in profile.tiers for e in t.properties.get("env") or []}
    what = f"{len(profile.tiers)} tiers, 500 macros → {len(objs)} objects"
    if helm is None:
        return [
            Figure(
                "plan (50 tiers, 500 macros)",
                None,
                None,
                "s",
                0.5,
                what,
                "no helm binary (HELM_BIN, .venv/bin/helm or PATH): the helm baseline is unavailable",
            )
        ]
    with tempfile.TemporaryDirectory(prefix="appprofile-bench-helm-") as tmp:
        root = Path(tmp)
        chart, given, substituted = _chart(root, objs, macro_envs)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(root),
            "HELM_CACHE_HOME": str(root / "cache"),
            "HELM_CONFIG_HOME": str(root / "config"),
            "HELM_DATA_HOME": str(root / "data"),
        }
        cmd = [helm, "template", "wide", str(chart), "--namespace", "wide", "-f", str(given)]

        def baseline() -> str:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"helm template failed: {done.stderr.strip()[:500]}")
            return done.stdout

        rendered = [d for d in yaml.safe_load_all(baseline()) if d]
        if _canonical(rendered) != _canonical(objs):
            raise RuntimeError(
                "helm's output differs from the objects of our plan: the baseline is not faithful"
            )
        # Beside the two: the same plan without the schema check and guardrails (where time goes).
        t_ours, t_helm, bare = rotated(
            [ours, baseline, lambda: plan.build(profile, catalog, target, charts=charts)], rounds=ROUNDS
        )
    return [
        Figure(
            "plan (50 tiers, 500 macros)",
            t_ours,
            t_helm,
            "s",
            0.5,
            f"{what}, schema-checked and guarded; baseline `helm template` of the same {len(objs)} objects "
            f"with {substituted} values from .Values (output verified identical); median of {ROUNDS}",
            f"without schema check and guardrails our plan takes {bare:.2f} s ({bare / t_helm:.1f}× helm)",
        )
    ]
