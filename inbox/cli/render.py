"""How the CLI prints: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from inbox.paging import Page

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console
    from rich.table import Table


class _FirstUse:
    """A rich Console made when first used: rich (and its start-up time) only for a command that prints with it."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr

    @cached_property
    def _made(self) -> Console:
        from rich.console import Console

        # No markup or emoji codes: what is printed holds user text ("[/]", ":smile:"), which must come out as typed.
        if self._stderr:
            return Console(stderr=True, soft_wrap=True, markup=False, emoji=False)
        return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made, name)


console = cast("Console", _FirstUse(stderr=False))
errors = cast("Console", _FirstUse(stderr=True))


def print_json(value: BaseModel | Sequence[BaseModel] | list[str] | dict[str, Any]) -> None:
    from pydantic import BaseModel  # loaded already: the values printed are its models

    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def when(instant: datetime | None, zone: str | None = None) -> str:
    """``2026-11-23 09:00 CET (08:00 UTC)``: local time with its zone, and UTC beside it."""
    if instant is None:
        return "-"
    local = instant.astimezone(ZoneInfo(zone)) if zone else instant.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M %Z")
    if local.utcoffset():
        text += instant.astimezone(UTC).strftime(" (%H:%M UTC)")
    return text


def table(*columns: str) -> Table:
    from rich.table import Table

    grid = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def tell_more(page: Page[Any], beyond: str = "more") -> None:
    """After a listing, on standard error (standard output stays the rows, a table or a JSON list): how many rows
    it left out, and how to see them."""
    if page.next_cursor is not None and page.more is not None:
        shown = len(page.rows)
        errors.print(
            f"{shown:,} shown, {page.more} {beyond}: --limit N to show N, --all for every one", highlight=False
        )


def fail(message: str) -> None:
    """One line on stderr: ``inbox: MESSAGE``. A message that quotes what was typed gets that text's control
    characters and line separators escaped (``\\x1c``, ``\\u2028``), so it can neither split the line a script reads nor
    drive the terminal."""
    from rich.text import Text

    errors.print(Text.assemble(("inbox:", "bold red"), " ", one_line(message)), highlight=False)


_UNPRINTED = frozenset({"Cc", "Zl", "Zp"})  # control characters, line and paragraph separators


def one_line(text: str) -> str:
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in _UNPRINTED else char for char in text)
