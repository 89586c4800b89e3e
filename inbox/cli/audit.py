"""``inbox audit [ID]``: who changed what and when (docs/audit.md), newest first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inbox.audit_limits import DEFAULT_LIMIT, MAX_LIMIT
from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, errors, print_json, table, when

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
    limit: Annotated[int, typer.Option("--limit", "-n", help=f"At most this many (1-{MAX_LIMIT}).")] = DEFAULT_LIMIT,
    every: Annotated[bool, typer.Option("--all", help="Every record, however many.")] = False,
    as_json: Json = False,
) -> None:
    """Who changed what and when: task, token, hook, channel and session changes, newest first."""
    from inbox.audit import count_older  # the store's modules load when the command runs, not for --help

    with open_inbox() as inbox:
        found = inbox.audit(ident, limit=MAX_LIMIT if every else limit)
        entries = list(found.entries)
        while every and found.more:
            found = inbox.audit(ident, limit=MAX_LIMIT, before=entries[-1].id)
            entries += found.entries
        more = count_older(inbox.engine, ident, before=entries[-1].id) if found.more and entries else 0
    if as_json:
        print_json(entries)
    else:
        grid = table("WHEN", "ACTOR", "ACTION", "SUBJECT", "SESSION", "CHANGES")
        for entry in entries:
            grid.add_row(
                when(entry.at), entry.actor, entry.action, entry.subject, entry.session or "", changes_text(entry)
            )
        console.print(grid)
    if more:
        errors.print(f"{more} more; see them with --all or a larger --limit", highlight=False)


def register(root: typer.Typer) -> None:
    root.command(name="audit")(audit)
