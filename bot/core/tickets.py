"""What a deploy request gets back: its run, the plan it binds to, and where it stands."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.core import plan


class DeployTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: int | None
    plan: plan.Plan
    queued_position: int = 0
    awaiting_approval: bool = False
    preview_only: bool = False
    # What a change window did to the request (`--override-window`: the approval's extra
    # approver), said in the requester's answer; empty: nothing.
    window_note: str = ""
