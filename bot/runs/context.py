"""What one run works with: the executor's ports and settings as the run starts, and the secrets
the run has met so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core import plan, ports
from bot.core.catalog import Catalog
from bot.core.ports import Cluster, ClusterError
from bot.core.readiness import FailFast
from bot.publisher import Publisher


@dataclass(frozen=True)
class RunContext:
    store: ports.Repositories
    catalog: Catalog
    connect: Callable[[str], Cluster]
    charts: plan.ChartRenderer
    publisher: Publisher
    clock: ports.Clock
    wait_timeout: float
    fail_fast: FailFast
    guards: Callable[[str], plan.Guard] | None
    check: plan.SchemaCheck | None
    password: Callable[[], str]
    # Whether this replica still holds the run's lease (another may have taken it over).
    holds: Callable[[], bool] = lambda: True
    # Every secret value known so far (given, generated, read back), scrubbed from anything a
    # person sees: failure messages, thread details, outputs, the audit log.
    hidden: set[str] = field(default_factory=set)


class LeaseLost(Exception):
    """Another replica took the run over (this one stalled past its lease): stop, say nothing;
    the new owner finishes the run on the same message."""


def retold(exc: ClusterError, message: str, detail: str) -> ClusterError:
    """The same failure (permanent or temporary, with its Retry-After), said for this run."""
    return ClusterError(message, status=exc.status, hint=detail, retry_after=exc.retry_after)
