"""Where a promoted run's version and `--set` values come from (issue 12 item 3).

A promotion deploys to one cluster exactly what succeeded on another; the run keeps its source
in `options["promoted_from"]` so the approval card, the progress message and the audit can say
it. Pure: the "time ago" is the caller's `now` (a `RunView.now`) minus the stored epoch seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.core.windows import ago_text

OPTION = "promoted_from"


class PromotedFrom(BaseModel):
    """The source deployment's succeeded run: cluster, deployment, run id, version, and when it
    succeeded (ISO 8601 UTC as stored, and the same moment as epoch seconds for arithmetic)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    cluster: str
    deployment: str
    run: int
    version: str
    succeeded_at: str
    succeeded_at_epoch: float

    def text(self, now: float) -> str:
        """`promotion of shop from staging (succeeded 3 h ago)`."""
        ago = ago_text(now - self.succeeded_at_epoch)
        return f"promotion of {self.deployment} from {self.cluster} (succeeded {ago})"

    def option(self) -> dict[str, object]:
        """What a promoted run carries in its options."""
        return {OPTION: self.model_dump(mode="json")}


def of(options: Mapping[str, Any]) -> PromotedFrom | None:
    """The lineage a run's options carry; None for a run that is no promotion (or unreadable)."""
    raw = options.get(OPTION)
    if not isinstance(raw, Mapping):
        return None
    try:
        return PromotedFrom.model_validate(dict(raw))
    except ValidationError:
        return None
