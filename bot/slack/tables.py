"""Deployments, versions and the audit log as Slack shows rows best: a table, one page at a time.

Why a table: these lists are rows with the same columns, and Slack's table block lines them up
where mrkdwn lines cannot. Its limits (Slack's block reference; the installed slack_sdk's
`TableBlock` validates it, and so does the fake Slack): messages only, not modals or Home; one
table per message; at most 100 rows of at most 20 cells; a cell is `raw_text` or `rich_text`;
row 0 is the header. A message shows one page of `PAGE_SIZE` rows under a header that says which
("Deployments — 41, rows 21–40"), with Previous / Next buttons when there is more.

A button's value (`PageValue`) names the list, the page's offset and the filters, nothing more:
the click runs the query again through the use cases as the person who clicked
(`bot.slack.listeners.pages`), so a page never shows what that person's own command would not.

Cells hold text as it is: raw_text and rich_text are not mrkdwn, so nothing needs escaping, and
a person is a rich_text user mention. An slack_sdk without `TableBlock` (older than the block)
cannot validate a table, so then the same rows go out as compact mrkdwn sections, escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

import slack_sdk.models.blocks as sdk_blocks
from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from bot.core import model
from bot.core.commands import CLUSTER_RE, MAX_AUDIT
from bot.core.records import AuditEntry, VersionRecord
from bot.slack import action_ids
from bot.slack.blocks import Message, button, context, escape, header, plain, plural, section

if TYPE_CHECKING:
    from bot.usecases.queries import DeploymentView

PAGE_SIZE = 20
MAX_OFFSET = 100_000  # far past any list the bot keeps; a bigger offset is a forged value
CELL_MAX = 500  # a cell longer than this is cut: a table is for scanning, `show` has the rest
DETAIL_MAX = 200
EMPTY = "—"  # an empty cell; a raw_text cell's text may not be empty
PREVIOUS_ACTION = f"{action_ids.PAGE_ACTION}.previous"
NEXT_ACTION = f"{action_ids.PAGE_ACTION}.next"

# A Slack user id (`U…`, or `W…` on Enterprise Grid). Audit rows also name the bot itself
# (`appprofile`) and the command line (`cli`): those are shown as text, not as a broken mention.
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# -- the buttons' values -----------------------------------------------------------------------


class _Page(BaseModel):
    """Where a page starts. Strict: a forged or stale value fails to parse ("out of date")."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, multiple_of=PAGE_SIZE)


class DeploymentsPage(_Page):
    list: Literal["deployments"] = "deployments"


class VersionsPage(_Page):
    list: Literal["versions"] = "versions"
    # The profile the command resolved: the channel's current profile may change between clicks.
    name: str = Field(pattern=model.NAME_RE.pattern)


class AuditPage(_Page):
    list: Literal["audit"] = "audit"
    limit: int = Field(default=20, ge=1, le=MAX_AUDIT)  # the N of `audit N`: rows in all pages
    profile: str | None = Field(default=None, pattern=model.NAME_RE.pattern)
    cluster: str | None = Field(default=None, pattern=CLUSTER_RE.pattern)

    @model_validator(mode="after")
    def _inside_what_was_asked(self) -> Self:
        if self.offset and self.offset >= self.limit:
            raise ValueError("the page starts past the entries asked for")
        return self


Page = DeploymentsPage | VersionsPage | AuditPage


class PageValue(RootModel[Annotated[Page, Field(discriminator="list")]]):
    """A Previous / Next button's value: `{"list": …, "offset": …}` and that list's filters."""


# -- cells and layouts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """A person in a cell, by Slack user id."""

    user: str


Cell = str | Mention


@dataclass(frozen=True)
class Column:
    title: str
    wrap: bool = False  # long free text (targets, details) wraps instead of widening the table


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_cell(cell: Cell) -> dict[str, Any]:
    if isinstance(cell, Mention) and _USER_ID.match(cell.user):
        user = {"type": "user", "user_id": cell.user}
        return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [user]}]}
    text = cell.user if isinstance(cell, Mention) else cell
    return {"type": "raw_text", "text": _cut(text, CELL_MAX) or EMPTY}


def table_layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[dict[str, Any]]:
    """One table block: the column titles in row 0, then the rows."""
    cells = [[_table_cell(c.title) for c in columns], *[[_table_cell(c) for c in row] for row in rows]]
    table: dict[str, Any] = {"type": "table", "rows": cells}
    if any(c.wrap for c in columns):
        table["column_settings"] = [{"is_wrapped": c.wrap} for c in columns]
    return [table]


def _mrkdwn_cell(cell: Cell) -> str:
    if isinstance(cell, Mention):
        return f"<@{cell.user}>" if _USER_ID.match(cell.user) else escape(cell.user)
    return escape(_cut(cell, CELL_MAX)) or EMPTY


def section_layout(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[dict[str, Any]]:
    """Without a table block: the column titles as a context line, then a section per row."""
    titles = context(" · ".join(f"*{escape(c.title)}*" for c in columns))
    return [titles, *[section(" · ".join(_mrkdwn_cell(c) for c in row)) for row in rows]]


Layout = Callable[[Sequence[Column], Sequence[Sequence[Cell]]], list[dict[str, Any]]]


def choose_layout() -> Layout:
    """The table when slack_sdk knows the table block (so it, and the fake Slack, validate it)."""
    return table_layout if hasattr(sdk_blocks, "TableBlock") else section_layout


LAYOUT = choose_layout()


# -- one page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listing:
    title: str  # "Deployments"
    total: str  # "41", or "" where only "is there more" is known (the audit log)
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    page: Page
    more: bool


def _span(listing: _Listing) -> str:
    """`rows 21–40`; nothing when everything fits on one page."""
    start = listing.page.offset
    return f"rows {start + 1}–{start + len(listing.rows)}" if start or listing.more else ""


def _heading(listing: _Listing) -> str:
    """`Deployments — 41, rows 21–40`."""
    parts = [p for p in (listing.total, _span(listing)) if p]
    return f"{listing.title} — {', '.join(parts)}" if parts else listing.title


def _buttons(listing: _Listing) -> list[dict[str, Any]]:
    page = listing.page
    out: list[dict[str, Any]] = []
    if page.offset:
        back = page.model_copy(update={"offset": max(0, page.offset - PAGE_SIZE)})
        out.append(button("Previous", PREVIOUS_ACTION, back.model_dump_json(exclude_none=True)))
    if listing.more:
        ahead = page.model_copy(update={"offset": page.offset + PAGE_SIZE})
        out.append(button("Next", NEXT_ACTION, ahead.model_dump_json(exclude_none=True)))
    return out


def _render(listing: _Listing, *, text: str, note: str = "") -> Message:
    out = [header(_heading(listing)), *LAYOUT(listing.columns, listing.rows)]
    if note:
        out.append(context(note))
    elements = _buttons(listing)
    if elements:
        out.append({"type": "actions", "block_id": "page", "elements": elements})
    span = _span(listing)
    return Message(text=_cut(f"{text}, {span}" if span else text, 3000), blocks=out)


def _start(offset: int, total: int) -> int:
    """A stale offset past the end (rows deleted since the button was drawn): the last page."""
    return min(offset, max(0, (total - 1) // PAGE_SIZE * PAGE_SIZE))


# -- the lists ---------------------------------------------------------------------------------

_DEPLOYMENTS = (
    Column("Deployment"),
    Column("Cluster"),
    Column("Profile@version"),
    Column("Status"),
    Column("Update"),
)


def _deployment_row(view: DeploymentView) -> list[Cell]:
    d = view.deployment
    return [d.name, d.cluster, f"{d.profile}@{d.version}", d.status, view.update or ""]


def deployments(items: Sequence[DeploymentView], offset: int = 0) -> Message:
    """Every deployment (the use case loads them whole); the page is a slice."""
    if not items:
        return plain("Nothing is deployed yet. Deploy with `/appprofile deploy PROFILE to CLUSTER`.")
    start = _start(offset, len(items))
    shown = items[start : start + PAGE_SIZE]
    listing = _Listing(
        "Deployments",
        str(len(items)),
        _DEPLOYMENTS,
        [_deployment_row(v) for v in shown],
        DeploymentsPage(offset=start),
        more=start + PAGE_SIZE < len(items),
    )
    return _render(listing, text=plural(len(items), "deployment"))


_VERSIONS = (Column("Version"), Column("Kind"), Column("By"), Column("At"), Column("From"))


def versions(records: Sequence[VersionRecord], offset: int = 0) -> Message:
    """One profile's versions (the use case loads them whole); the page is a slice."""
    if not records:
        return plain("This profile has no versions.")
    name = records[0].name
    start = _start(offset, len(records))
    rows: list[list[Cell]] = [
        [r.version, r.kind, Mention(r.created_by), r.created_at, r.source or ""]
        for r in records[start : start + PAGE_SIZE]
    ]
    listing = _Listing(
        f"{name} versions",
        str(len(records)),
        _VERSIONS,
        rows,
        VersionsPage(name=name, offset=start),
        more=start + PAGE_SIZE < len(records),
    )
    return _render(listing, text=f"{name}: {plural(len(records), 'version')}")


_AUDIT = (
    Column("At"),
    Column("Who"),
    Column("Action"),
    Column("Target", wrap=True),
    Column("Result"),
    Column("Detail", wrap=True),
)


def _audit_note(page: AuditPage) -> str:
    bits = [f"newest first, up to {page.limit}"]
    if page.profile:
        bits.append(f"profile `{escape(page.profile)}`")
    if page.cluster:
        bits.append(f"cluster `{escape(page.cluster)}`")
    return " · ".join(bits)


def audit(entries: Sequence[AuditEntry], page: AuditPage, *, more: bool) -> Message:
    """One page of the audit log: `entries` are that page's rows (stored with secrets masked),
    `more` whether the entries asked for go on past it."""
    if not entries:
        if page.offset:
            return plain(f"The audit log has no entries past row {page.offset} for this filter.")
        return plain("The audit log is empty for this filter.")
    rows: list[list[Cell]] = [
        [e.at, Mention(e.actor), e.action, e.target, e.result, _cut(e.detail, DETAIL_MAX)] for e in entries
    ]
    listing = _Listing("Audit log", "", _AUDIT, rows, page, more=more)
    count = "1 audit entry" if len(entries) == 1 else f"{len(entries)} audit entries"
    return _render(listing, text=count, note=_audit_note(page))
