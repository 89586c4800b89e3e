"""Message commands: send, outbox."""

import sys
import time
from typing import Annotated

import typer
from rich.text import Text

from inbox.cli.options import Json, Session, open_inbox
from inbox.cli.render import console, print_json, when
from inbox.views import OutboxItem

FOLLOW_POLL_S = 0.5


def send(
    text: Annotated[str, typer.Argument(help="The message.")],
    session: Session = "main",
    at: Annotated[str | None, typer.Option("--at")] = None,
    in_: Annotated[str | None, typer.Option("--in")] = None,
    as_json: Json = False,
) -> None:
    """Drop a chat message into the inbox, now or later."""
    with open_inbox() as inbox:
        message = inbox.send(text, session=session, at=at, in_=in_)
    if as_json:
        print_json(message)
    else:
        console.print(f"Sent {message.id} to {message.session} (due {when(message.process_after)}).")


def _show(item: OutboxItem) -> None:
    console.print(
        Text.assemble((when(item.created_at), "dim"), " ", (item.session, "bold"), f" ({item.kind}): {item.text}"),
        highlight=False,
    )


def outbox(
    session: Annotated[str | None, typer.Option("--session", "-s")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new messages.")] = False,
    as_json: Json = False,
) -> None:
    """What the assistant (and reminders) sent."""
    with open_inbox() as inbox:
        items = inbox.outbox(session=session, limit=limit)
        if as_json and not follow:
            print_json(items)
            return
        # Following with --json prints one JSON object per line, so a program can read it as it comes.
        emit = _json_line if as_json else _show
        for item in items:
            emit(item)
        last = items[-1].id if items else None
        while follow:
            time.sleep(FOLLOW_POLL_S)
            for item in inbox.outbox(session=session, limit=limit, after=last):
                emit(item)
                last = item.id


def _json_line(item: OutboxItem) -> None:
    sys.stdout.write(item.model_dump_json() + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(outbox)
