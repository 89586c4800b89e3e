"""``inbox emit``: emit an event; every active task whose ``--on`` pattern matches starts a run (docs/events.md)."""

from typing import Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, print_json
from inbox.event_names import parse_data


def emit(
    name: Annotated[str, typer.Argument(help="The event's name: dotted words such as mail.received.")],
    data: Annotated[str | None, typer.Option("--data", help="JSON the runs it starts are given.")] = None,
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Only this session's tasks (default: every session's).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: used again within 24 h, nothing more is started.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Emit an event: one run of every active task listening for it starts."""
    value = parse_data(data) if data is not None else None
    with open_inbox() as inbox:
        done = inbox.emit(name, value, session=session, key=key)
    if as_json:
        print_json(done)
        return
    if done.duplicate:
        console.print(f"Event {done.id} was already emitted with key {key!r}; nothing more started.", highlight=False)
        return
    started = len(done.matched)
    console.print(f"Emitted {done.id} ({done.name}): started {started} task{'s' if started != 1 else ''}.")
    for series_id in done.matched:
        console.print(f"  {'queued' if series_id in done.queued else 'started'}: {series_id}", highlight=False)
    for series_id in done.coalesced:
        console.print(f"  coalesced (one already waiting): {series_id}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(emit)
