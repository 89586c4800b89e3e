"""Options shared by several commands, and opening the store for a command."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from inbox.api import Inbox
from inbox.errors import InvalidInput

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Session = Annotated[str, typer.Option("--session", "-s", help="The conversation the message belongs to.")]


def open_inbox() -> Inbox:
    return Inbox()


def read_script(value: str | None) -> str | None:
    """``--script FILE``, ``--script -`` (standard input) or ``--script ''`` (remove, for update)."""
    if value is None or value == "":
        return value
    if value == "-":
        return sys.stdin.read()
    path = Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput("script", f"no such file: {value}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("script", f"{value} is not a UTF-8 text file") from None
