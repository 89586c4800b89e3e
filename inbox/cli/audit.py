"""``inbox audit [ID]``: who changed what and when (docs/audit.md), newest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inbox.cli.options import Every, Json, Limit, open_inbox, rows_wanted
from inbox.cli.render import console, print_json, table, tell_more, when

if TYPE_CHECKING:
    from inbox.audit import AuditEntry

SHOWN_CHARS = 60  # a value longer than this is cut in the table (--json has it whole)


def _value(value: Any) -> str:
    text = "-" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def changes_text(entry: AuditEntry) -> str:
    """``status: active → paused; name: - → nightly``."""
    return "; ".join(f"{key}: {_value(c['before'])} → {_value(c['after'])}" for key, c in entry.changes.items())


def audit(
    ident: Annotated[
        str | None,
        typer.Argument(
            metavar="[ID]",
            help="A task's or occurrence's id or name, or a token's, hook's, channel's or session's name.",
        ),
    ] = None,
    limit: Limit = None,
    every: Every = False,
    as_json: Json = False,
) -> None:
    """Who changed what and when: task, token, hook, channel and session changes, newest first."""
    with open_inbox() as inbox:
        page = inbox.audit_page(ident, limit=rows_wanted(limit, every), count=True)
    if as_json:
        print_json(page.rows)
    else:
        grid = table("WHEN", "ACTOR", "ACTION", "SUBJECT", "SESSION", "CHANGES")
        for entry in page.rows:
            grid.add_row(
                when(entry.at), entry.actor, entry.action, entry.subject, entry.session or "", changes_text(entry)
            )
        console.print(grid)
    tell_more(page, "older")


def register(root: typer.Typer) -> None:
    root.command(name="audit")(audit)
