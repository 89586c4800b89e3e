"""How the CLI prints: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inbox.paging import Page

# No markup or emoji codes: what is printed holds user text ("[/]", ":smile:"), which must come out as typed.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)
errors = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)


def print_json(value: BaseModel | Sequence[BaseModel] | list[str] | dict[str, Any]) -> None:
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
    errors.print(Text.assemble(("inbox:", "bold red"), " ", message), highlight=False)
