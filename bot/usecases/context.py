"""What every use case works with: the store, the catalog, the policy and, when deploys run, the
run loop and where approval cards are shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core import plan, policy, ports
from bot.core.catalog import Catalog

if TYPE_CHECKING:
    from bot.publisher import Publisher
    from bot.runs.loop import Executor


def no_groups(_user: str) -> set[str]:
    return set()


@dataclass(frozen=True)
class UseCaseContext:
    store: ports.Repositories
    catalog: Catalog
    config: policy.Config
    charts: plan.ChartRenderer
    clock: ports.Clock
    # Slack usergroups a user belongs to (for access lists and approvers); empty without Slack.
    groups_of: Callable[[str], set[str]] = field(default=no_groups)
    # The run loop and where approval cards are shown; both None in an offline service (the CLI).
    executor: Executor | None = None
    publisher: Publisher | None = None
    # Schema check of every rendered object while planning (bot.kube.schema in production).
    check: plan.SchemaCheck | None = None
    # The cluster's guardrails and the ports they need (scope from discovery, namespace owners).
    guards: Callable[[str], plan.Guard] | None = None
