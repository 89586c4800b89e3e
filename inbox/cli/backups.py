"""``inbox backup FILE`` and ``inbox restore FILE``: the whole store, history included."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inbox.cli.options import ACTOR, Json, open_inbox
from inbox.cli.render import console, errors, print_json
from inbox.errors import InvalidInput
from inbox.validation import is_file

FORMAT_HELP = "sqlite | pg_dump | json (default: sqlite on SQLite; on PostgreSQL pg_dump when installed, else json)"


def _rows(counts: dict[str, int]) -> str:
    held = [f"{name} {count}" for name, count in sorted(counts.items()) if count]
    return ", ".join(held) if held else "no rows"


def backup(
    file: Annotated[str, typer.Argument(help="The file to write (replaced once the copy is complete).")],
    fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    as_json: Json = False,
) -> None:
    """Copy the whole store to FILE while hosts keep working: a consistent copy as of one moment."""
    from inbox.backup.formats import BackupFormat
    from inbox.backup.pg_dump import ToolFailed
    from inbox.backup.run import backup as make_backup
    from inbox.backup.run import choose
    from inbox.validation import choice

    asked = choice(BackupFormat, fmt, field="--format")
    path = Path(file).expanduser()
    with open_inbox() as inbox:
        chosen = choose(inbox.engine, asked)
        try:
            made = make_backup(inbox.engine, path, chosen, now=inbox.clock())
        except ToolFailed as failed:
            errors.print(f"inbox backup: {failed}; `--format json` needs no tools", highlight=False)
            raise typer.Exit(1) from failed
    size = path.stat().st_size
    if as_json:
        print_json({"file": str(path), "format": made.format.value, "bytes": size, "revision": made.revision,
                    "rows": made.rows})  # fmt: skip
        return
    console.print(
        f"backed up to {path} ({made.format.value}, {size:,} bytes, schema {made.revision}): {_rows(made.rows)}",
        highlight=False,
    )


def restore(
    file: Annotated[str, typer.Argument(help="A backup made by `inbox backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a store that holds anything.")] = False,
    as_json: Json = False,
) -> None:
    """Replace the store with a backup. The file is checked first; a store that holds anything is left alone
    unless --force. Stop every host on the store first."""
    from inbox.backup.pg_dump import ToolFailed
    from inbox.backup.run import restore as restore_backup
    from inbox.config import load_settings

    path = Path(file).expanduser()
    if not is_file(path):
        raise InvalidInput("FILE", f"no such file: {file}")
    settings = load_settings()
    try:
        done = restore_backup(settings.database_url, path, force=force, actor=ACTOR)
    except ToolFailed as failed:
        errors.print(f"inbox restore: {failed}", highlight=False)
        raise typer.Exit(1) from failed
    if as_json:
        print_json({"file": str(path), "format": done.format.value, "revision": done.revision, "rows": done.rows})
        return
    console.print(
        f"restored {path} ({done.format.value}, made at schema {done.revision}): {_rows(done.rows)}", highlight=False
    )


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
