"""What every figure shares: the result record, timing helpers, and how a figure is printed."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "profiles" / "examples"


@dataclass
class Figure:
    """One measured figure: ours against the real alternative measured in the same run.

    `goal` is the largest acceptable ratio ours / baseline. A figure that could not be measured
    faithfully has `ours` or `baseline` None and says why in `note`; it is neither PASS nor OVER.
    """

    name: str
    ours: float | None
    baseline: float | None
    unit: str
    goal: float
    what: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline <= 0:
            return None
        return self.ours / self.baseline

    @property
    def verdict(self) -> str:
        r = self.ratio
        if r is None:
            return "n/a"
        return "PASS" if r <= self.goal else "OVER"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1.0:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if float(value).is_integer():
        return f"{int(value)} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def show(fig: Figure) -> None:
    """The figure's line, printed as soon as it is measured."""
    ratio = "—" if fig.ratio is None else f"{fig.ratio:.2f}×"
    print(
        f"  {fig.name}: ours {fmt(fig.ours, fig.unit)}, baseline {fmt(fig.baseline, fig.unit)}, "
        f"ratio {ratio}, goal ≤ {fig.goal:g}× → {fig.verdict}"
    )
    if fig.what:
        print(f"      {fig.what}")
    if fig.note:
        print(f"      note: {fig.note}")
    sys.stdout.flush()


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "ours", "baseline", "ratio", "goal", "")]
    for f in figures:
        ratio = "—" if f.ratio is None else f"{f.ratio:.2f}×"
        rows.append(
            (f.name, fmt(f.ours, f.unit), fmt(f.baseline, f.unit), ratio, f"≤ {f.goal:g}×", f.verdict)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def interleaved(
    ours: Callable[[], Any], base: Callable[[], Any], *, rounds: int, number: int = 1
) -> tuple[float, float]:
    """Median seconds per call of each, measured in alternating rounds (ours, base, base, ours, …)
    so that machine noise lands on both sides alike."""
    a, b = rotated([ours, base], rounds=rounds, number=number)
    return a, b


def rotated(fns: Sequence[Callable[[], Any]], *, rounds: int, number: int = 1) -> list[float]:
    """Median seconds per call of each of `fns`, the order rotating (and reversing) every round."""
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    for i in range(rounds):
        turn = order[i % len(order) :] + order[: i % len(order)]
        for k in turn if i % 2 == 0 else reversed(turn):
            start = time.perf_counter()
            for _ in range(number):
                fns[k]()
            times[k].append((time.perf_counter() - start) / number)
    return [statistics.median(t) for t in times]


def helm_binary() -> str | None:
    """The helm the bot uses: HELM_BIN, else the one in the venv, else one on PATH."""
    env = os.environ.get("HELM_BIN")
    if env:
        return env if shutil.which(env) else None
    beside = Path(sys.executable).parent / "helm"
    if beside.exists():
        return str(beside)
    return shutil.which("helm")


def deadline(seconds: float) -> Callable[[], bool]:
    """A bounded wait: call the result to know whether `seconds` have passed."""
    end = time.monotonic() + seconds
    return lambda: time.monotonic() > end
