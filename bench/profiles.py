"""Generated profiles for the benchmarks: a wide one for planning, deployable ones of N tiers.

Every profile is built as data and checked by `bot.core.validate` as the service checks what a
person saves, so the benchmarks never plan or deploy something the bot would refuse.
"""

from __future__ import annotations

import random
import re
from typing import Any

from bot import catalog_files
from bot.core import model, validate
from bot.core.model import Profile

MACRO = re.compile(r"\{\{\s*\.spectro\.")
OUTPUTS = {
    "postgresql": ["POSTGRESMSTR_SVC", "POSTGRESMSTR_SVC_PORT", "USERNAME", "PASSWORD"],
    "redis": ["REDISMSTR_SVC", "REDISMSTR_SVC_PORT", "REDISMSTR_NS", "PASSWORD"],
    "container": ["CONTAINER_SVC", "CONTAINER_SVC_PORT", "CONTAINER_NAMESPACE"],
}
SYSTEM = [
    "appdeployment.name",
    "appdeployment.tiername",
    "appprofile.version",
    "cluster.name",
    "apptier.name",
    "apptier.NAMESPACE",
]


def _output_macro(rng: random.Random, below: list[tuple[str, str]]) -> str:
    name, kind = rng.choice(below)
    outputs = OUTPUTS[kind]
    # Passwords are referenced now and then (they become secretKeyRefs), addresses mostly.
    output = rng.choice([o for o in outputs if o != "PASSWORD"] if rng.random() < 0.9 else outputs)
    return f"{{{{.spectro.app.$appDeploymentName.{name}.{output}}}}}"


def wide(tiers: int = 50, macros: int = 500, data_tiers: int = 10, seed: int = 11) -> Profile:
    """`tiers` tiers — `data_tiers` PostgreSQL/Redis ones spread through the stack, the rest
    containers — with `macros` macros in the containers' env values: each value one macro naming a
    lower tier's output (mostly) or a system variable."""
    rng = random.Random(seed)
    kinds = ["container"] * tiers
    for i in range(data_tiers):
        kinds[i * tiers // data_tiers] = "postgresql" if i % 2 == 0 else "redis"
    containers = kinds.count("container")
    per = [macros // containers + (1 if i < macros % containers else 0) for i in range(containers)]
    below: list[tuple[str, str]] = []
    out: list[dict[str, Any]] = []
    c = 0
    for i, kind in enumerate(kinds):
        name = f"{kind[:2]}-{i:02d}"
        if kind == "postgresql":
            props: dict[str, Any] = {"username": f"user{i}", "databaseName": f"db{i}", "volumeSize": 1}
        elif kind == "redis":
            props = {"volumeSize": 1}
        else:
            env = []
            for j in range(per[c]):
                if below and rng.random() < 0.8:
                    value = _output_macro(rng, below)
                else:
                    value = f"{{{{.spectro.system.{rng.choice(SYSTEM)}}}}}"
                if rng.random() < 0.3:
                    value = f"http://{value}:8080/v{j}"
                env.append({"name": f"M_{i:02d}_{j:02d}", "value": value})
            c += 1
            props = {
                "image": f"ghcr.io/example/svc-{i:02d}:1.{i}.0",
                "replicas": 1 + i % 3,
                "ports": [8080 + i],
                "env": env,
            }
        out.append({"name": name, "type": kind, "properties": props})
        below.append((name, kind))
    profile = checked({"name": "wide", "version": "1.0.0", "description": "bench", "tiers": out})
    found = len(MACRO.findall(model.to_yaml(profile)))
    if found != macros:
        raise RuntimeError(f"the wide profile has {found} macros, not {macros}")
    return profile


def stack(tiers: int, name: str) -> Profile:
    """A deployable stack of `tiers` tiers: a PostgreSQL at the bottom, a Redis above it when
    there is room, then containers each wired to what is below."""
    out: list[dict[str, Any]] = [
        {"name": "db", "type": "postgresql", "properties": {"username": "app", "databaseName": "app"}}
    ]
    if tiers >= 4:
        out.append({"name": "cache", "type": "redis", "properties": {}})
    while len(out) < tiers:
        i = len(out)
        prev = out[-1]["name"]
        env = [
            {"name": "DB_HOST", "value": "{{.spectro.app.$appDeploymentName.db.POSTGRESMSTR_SVC}}"},
            {"name": "DB_PASSWORD", "value": "{{.spectro.app.$appDeploymentName.db.PASSWORD}}"},
        ]
        if out[-1]["type"] == "container":
            env.append(
                {"name": "UPSTREAM", "value": f"{{{{.spectro.app.$appDeploymentName.{prev}.CONTAINER_SVC}}}}"}
            )
        out.append(
            {
                "name": f"svc-{i}",
                "type": "container",
                "properties": {
                    "image": f"ghcr.io/example/svc:{i}.0.0",
                    "ports": [8080],
                    "access": "public" if i == tiers - 1 else "private",
                    "env": env,
                },
            }
        )
    return checked({"name": name, "version": "1.0.0", "tiers": out})


def checked(data: dict[str, Any]) -> Profile:
    return validate.profile(data, catalog_files.load())
