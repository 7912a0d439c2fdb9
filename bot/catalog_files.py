"""Read the service catalogue from `profiles/services/<type>/{service.yaml,template.yaml.j2}`.

The files ship with the package (`bot/_profiles` in a wheel) or sit next to it in a checkout.
A malformed file is a bug of ours, not something a person can fix from Slack: it raises as is.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from bot.core.catalog import Catalog, ServiceType

TEMPLATE_FILE = "template.yaml.j2"
SERVICE_FILE = "service.yaml"


def default_root() -> Path:
    """`bot/_profiles` inside an installed package, else `<repo>/profiles`."""
    package = Path(__file__).resolve().parent
    installed = package / "_profiles"
    if installed.is_dir():
        return installed
    return package.parent / "profiles"


def charts_dir(root: Path | None = None) -> Path:
    """Where local Helm charts named by a helm tier (`chart: web`) live."""
    return (root or default_root()) / "charts"


def load_service(directory: Path) -> ServiceType:
    data = yaml.safe_load((directory / SERVICE_FILE).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{directory / SERVICE_FILE} is not a mapping")
    template = directory / TEMPLATE_FILE
    data["template"] = template.read_text(encoding="utf-8") if template.is_file() else ""
    svc = ServiceType.model_validate(data)
    if svc.type != directory.name:
        raise ValueError(
            f"{directory / SERVICE_FILE} declares type {svc.type!r} in folder {directory.name!r}"
        )
    return svc


@functools.cache
def _load_default() -> Catalog:
    return _load(default_root())


def _load(root: Path) -> Catalog:
    services = {}
    for directory in sorted((root / "services").iterdir()):
        if (directory / SERVICE_FILE).is_file():
            svc = load_service(directory)
            services[svc.type] = svc
    if not services:
        raise FileNotFoundError(f"no service types under {root / 'services'}")
    return Catalog(services=services)


def load(root: Path | None = None) -> Catalog:
    """The catalogue under `root` (the `profiles/` folder); the default one is read once."""
    if root is None:
        return _load_default()
    return _load(root)
