"""``inbox export`` and ``inbox import``: the store's definitions as one versioned JSON document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import errors, print_json
from inbox.errors import InvalidInput
from inbox.validation import is_file


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def export(
    file: Annotated[str, typer.Argument(help="Where to write it; - (the default) is standard output.")] = "-",
) -> None:
    """Write the live tasks (their definitions and next runs, not their history) and pending messages as JSON,
    for `inbox import` into another store (SQLite to PostgreSQL, or back)."""
    from inbox.atomic import replacing
    from inbox.transfer.document import export_document

    with open_inbox() as inbox:
        document = export_document(inbox.engine, now=inbox.clock())
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if file == "-":
        sys.stdout.write(text)
        return
    with replacing(Path(file).expanduser()) as part:
        part.write_text(text, encoding="utf-8")
    counts = ", ".join(_plural(len(document[name]), name.rstrip("s")) for name in ("tasks", "messages"))
    errors.print(f"exported {counts} to {file}", highlight=False)


def import_(
    file: Annotated[str, typer.Argument(help="An export made by `inbox export`; - reads standard input.")],
    as_json: Json = False,
) -> None:
    """Add what an export holds to this store. Everything is checked first (exit 2 naming the bad field, nothing
    written); what the store already holds is left as it is, so importing twice adds nothing the second time."""
    from inbox.transfer.document import import_checked, parse

    if file == "-":
        text = sys.stdin.buffer.read()
    else:
        path = Path(file).expanduser()
        if not is_file(path):
            raise InvalidInput("FILE", f"no such file: {file}")
        text = path.read_bytes()
    checked = parse(text)
    with open_inbox() as inbox:
        counts = import_checked(inbox.engine, checked, now=inbox.clock(), actor=inbox.actor)
    if as_json:
        print_json({name: {"added": c.added, "present": c.present} for name, c in counts.items()})
        return
    parts = []
    for name, count in counts.items():
        part = _plural(count.added, name.rstrip("s"))
        parts.append(part + (f" ({count.present} already there)" if count.present else ""))
    print("imported " + ", ".join(parts))


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command(name="import")(import_)
