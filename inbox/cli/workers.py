"""``inbox workers``: every kind a task may name with ``--do``, the built-ins and the registered workers."""

from __future__ import annotations

import json
import sys

import typer

from inbox.cli.options import Json
from inbox.cli.render import console, table


def workers(as_json: Json = False) -> None:
    """List the kinds of work (--do): built-in ones and workers installed through the inbox.workers entry points,
    with the JSON schema of what --with takes."""
    from inbox import kinds  # the kinds' models load when the command runs, not for --help

    found = kinds.kinds()
    if as_json:
        sys.stdout.write(json.dumps([kind.as_json() for kind in found], indent=2, ensure_ascii=False) + "\n")
        return
    grid = table("kind", "from", "with", "description")
    for kind in found:
        fields = ", ".join((kind.input_schema or {}).get("properties", {})) or "-"
        origin = "built in" if kind.builtin else "worker"
        grid.add_row(kind.name, origin, fields if kind.problem is None else "-", kind.problem or kind.description)
    console.print(grid)


def register(root: typer.Typer) -> None:
    root.command(name="workers")(workers)
