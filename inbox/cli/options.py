"""Options shared by several commands, opening the store for a command, and errors in the command's words."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from inbox.errors import InvalidInput
from inbox.paging import DEFAULT_PAGE
from inbox.task_help import FIELD_HELP
from inbox.validation import is_file

if TYPE_CHECKING:
    from inbox.api import Inbox

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Limit = Annotated[
    int | None, typer.Option("--limit", help=f"Show the first N rows (default {DEFAULT_PAGE}); the rest are counted.")
]
Every = Annotated[bool, typer.Option("--all", help="Show every row.")]
Session = Annotated[str, typer.Option("--session", "-s", help="The conversation the message belongs to.")]


def rows_wanted(limit: int | None, every: bool) -> int | None:
    """How many rows a listing shows: ``--limit N``, every one (``--all``, None), or the first page's worth."""
    if every and limit is not None:
        raise InvalidInput("limit", "give --limit or --all, not both", mentions=("all",))
    return None if every else DEFAULT_PAGE if limit is None else limit


ACTOR = "cli"  # who the audit trail and ``created_by`` say made what a command changes


def open_inbox() -> Inbox:
    # The store's API (SQLAlchemy, the models) loads with the first command that opens it: not for --help.
    from inbox.api import Inbox

    return Inbox(actor=ACTOR)


def read_script(value: str | None) -> str | None:
    """``--script FILE``, ``--script -`` (standard input) or ``--script ''`` (remove, for update)."""
    if value is None or value == "":
        return value
    if value == "-":
        return sys.stdin.read()
    path = Path(value).expanduser()
    if not is_file(path):
        raise InvalidInput("script", f"no such file: {value}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("script", f"{value} is not a UTF-8 text file") from None


def flag(field: str) -> str:
    """The option a field is given with: ``catch_up`` is ``--catch-up``."""
    return "--" + field.replace("_", "-")


def field_help(name: str) -> str:
    """What a task's field means, as the model of a task says it (the option's help); ``in`` for ``--in``."""
    return FIELD_HELP[name]


# The core names fields; the line printed names the options instead where a field's own name would mislead:
# "tz" next to the INBOX_TZ and TZ variables the zone may also come from.
_AS_FLAG = frozenset({"tz"})


def in_flags(error: InvalidInput) -> str:
    """A refusal as the command line says it: ``--tz: ...``, "give exactly one of --cron, --every, ..."."""
    field = flag(error.field) if error.field in _AS_FLAG else error.field
    reason = error.reason
    if error.mentions:
        names = "|".join(re.escape(name) for name in error.mentions)
        # a field as listed ("cron, every or at", "(got cron)"), not a word of the sentence ("at most")
        reason = re.sub(rf"(?<![\w-])({names})(?=,|\)| or | \(|$)", lambda m: flag(m[1]), reason)
    return f"{field}: {reason}"
