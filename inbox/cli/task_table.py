"""The table ``inbox tasks`` prints, for the full path (inbox.cli.tasks) and the quick one (inbox.cli.quick_tasks)
alike: one place, so both print the same."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from inbox.cli.render import console, table, when


class Listed(Protocol):
    """What the table shows of a task (inbox.views.Task has it, and so does the quick path's row)."""

    @property
    def series_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def prompt(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def schedule(self) -> str: ...
    @property
    def next_run(self) -> datetime | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def last_outcome(self) -> str | None: ...
    @property
    def runs(self) -> int: ...


def print_tasks(found: Sequence[Listed]) -> None:
    grid = table("id", "name", "status", "schedule", "next run", "last", "runs")
    for task in found:
        grid.add_row(
            task.series_id,
            task.name or short(task.prompt),
            task.status,
            task.schedule,
            when(task.next_run, task.timezone),
            task.last_outcome or "-",
            str(task.runs),
        )
    console.print(grid)


def short(text: str, width: int = 40) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
