"""``inbox limit TAG`` and ``inbox limits``: how many tasks with a tag run at once, and how many start per window."""

from typing import Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, print_json, table, when


def limit(
    tag: Annotated[str, typer.Argument(help="The tag to limit (inbox schedule --tag).")],
    max_running: Annotated[
        int | None, typer.Option("--max-running", help="At most this many tasks with the tag run at once.")
    ] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="At most N start per DUR, as N/DUR: 10/1m, 100/1h.")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the tag's limit.")] = False,
    as_json: Json = False,
) -> None:
    """Limit the tasks with a tag, across every host: the rest wait, due, until there is room."""
    with open_inbox() as inbox:
        if remove:
            if max_running is not None or rate is not None:
                raise typer.BadParameter("give --remove alone", param_hint="--remove")
            done = inbox.remove_limit(tag)
        else:
            done = inbox.set_limit(tag, max_running=max_running, rate=rate)
    if as_json:
        print_json(done)
    elif remove:
        console.print(f"Removed the limit of tag {done.tag!r}.", highlight=False)
    else:
        console.print(f"Tag {done.tag}: {_bounds(done.max_running, done.rate)}", highlight=False)


def _bounds(max_running: int | None, rate: str | None) -> str:
    said = [f"at most {max_running} running"] if max_running is not None else []
    return ", ".join(said + ([f"at most {rate} started"] if rate else []))


def limits(as_json: Json = False) -> None:
    """The limits per tag, and how many tasks with each tag run now."""
    with open_inbox() as inbox:
        found = inbox.limits()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No limits.")
        return
    grid = table("tag", "max running", "rate", "running", "set")
    for item in found:
        grid.add_row(
            item.tag,
            str(item.max_running) if item.max_running is not None else "-",
            item.rate or "-",
            str(item.running),
            f"{when(item.created_at)} by {item.created_by}",
        )
    console.print(grid)


def register(app: typer.Typer) -> None:
    app.command()(limit)
    app.command()(limits)
