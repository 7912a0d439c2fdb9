"""`GET /metrics`: Prometheus text, read from the store at scrape time.

Counting at scrape time (not instrumenting every code path) keeps the figures true across
restarts and replicas: they are what the database says. Durations come from the runs' own
recorded tier start and finish times, bounded to the newest finished runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from bot import api_errors
from bot.core.records import Run

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class RunSource(Protocol):
    def run_counts(self) -> list[tuple[str, str, str, int]]: ...

    def recent_finished_runs(self, limit: int = 1000) -> list[Run]: ...

    def drifted_counts(self) -> list[tuple[str, int]]: ...


def _seconds(run: Run) -> float:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return max(
        0.0, (datetime.strptime(run.updated_at, fmt) - datetime.strptime(run.created_at, fmt)).total_seconds()
    )


def _histogram(
    name: str, doc: str, labels: list[str], samples: dict[tuple[str, ...], list[float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for key, values in sorted(samples.items()):
        buckets = [(str(b), float(sum(v <= b for v in values))) for b in _BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric(list(key), buckets, sum(values))
    return family


def _drifted(store: RunSource) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "appprofile_drifted_deployments",
        "Deployments whose scheduled drift check (drift_check) found drift that is still there",
        labels=["cluster"],
    )
    for cluster, n in store.drifted_counts():
        family.add_metric([cluster], float(n))
    return family


def _api_errors() -> CounterMetricFamily:
    family = CounterMetricFamily(
        "appprofile_api_errors",
        "Errors the Slack and Kubernetes APIs answered this process, by kind (Slack error code, HTTP status, timeout)",
        labels=["api", "kind"],
    )
    for (api, kind), n in sorted(api_errors.snapshot().items()):
        family.add_metric([api, kind], float(n))
    return family


class StoreCollector(Collector):
    def __init__(self, store: RunSource) -> None:
        self._store = store

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        counts = self._store.run_counts()
        runs = CounterMetricFamily(
            "appprofile_runs", "Runs by kind, cluster and result", labels=["kind", "cluster", "result"]
        )
        queued = GaugeMetricFamily(
            "appprofile_queue_length", "Runs queued or running, per cluster", labels=["cluster"]
        )
        pending = GaugeMetricFamily(
            "appprofile_pending_approvals", "Runs waiting for approval, per cluster", labels=["cluster"]
        )
        per_cluster: dict[str, list[int]] = {}
        for kind, cluster, status, n in counts:
            runs.add_metric([kind, cluster, status], float(n))
            slot = per_cluster.setdefault(cluster, [0, 0])
            slot[0] += n if status in ("queued", "running") else 0
            slot[1] += n if status == "awaiting_approval" else 0
        for cluster, (q, p) in sorted(per_cluster.items()):
            queued.add_metric([cluster], float(q))
            pending.add_metric([cluster], float(p))
        yield from (runs, queued, pending)
        yield from (_drifted(self._store), _api_errors())
        finished = self._store.recent_finished_runs()
        run_times: dict[tuple[str, ...], list[float]] = {}
        tier_times: dict[tuple[str, ...], list[float]] = {}
        for r in finished:
            run_times.setdefault((r.kind, r.cluster, r.status), []).append(_seconds(r))
            for t in r.tiers:
                if t.started_at is not None and t.finished_at is not None:
                    tier_times.setdefault((r.cluster, t.state), []).append(
                        max(0.0, t.finished_at - t.started_at)
                    )
        yield _histogram(
            "appprofile_run_duration_seconds", "Run durations", ["kind", "cluster", "result"], run_times
        )
        yield _histogram(
            "appprofile_tier_duration_seconds", "Tier durations", ["cluster", "state"], tier_times
        )


def registry(store: RunSource) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector(store))
    return reg


def render(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
