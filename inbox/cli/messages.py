"""Message commands: send (optionally waiting for the answer), outbox."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from inbox.cli.options import Every, Json, Limit, Session, open_inbox, rows_wanted
from inbox.cli.render import console, fail, print_json, tell_more, when
from inbox.enums import DeliveryStatus, Status
from inbox.errors import InvalidInput
from inbox.schedules import parse_duration

if TYPE_CHECKING:
    from inbox.api import Inbox
    from inbox.views import Message, OutboxItem

FOLLOW_POLL_S = 0.5
WAIT_POLL_S = 0.5
DEFAULT_WAIT = "5m"


def send(
    text: Annotated[str, typer.Argument(help="The message.")],
    session: Session = "main",
    at: Annotated[str | None, typer.Option("--at")] = None,
    in_: Annotated[str | None, typer.Option("--in")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait for the answer and print it.")] = False,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="How long --wait waits (default 5m); then exit 1.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Drop a chat message into the inbox, now or later; with --wait, print what comes back."""
    if timeout is not None and not wait:
        raise InvalidInput("--timeout", "only means something with --wait")
    limit = parse_duration(timeout or DEFAULT_WAIT, field="--timeout") if wait else None
    with open_inbox() as inbox:
        cursor = _newest_outbox_id(inbox, session) if wait else ""
        message = inbox.send(text, session=session, at=at, in_=in_)
        if limit is None:
            if as_json:
                print_json(message)
            else:
                console.print(f"Sent {message.id} to {message.session} (due {when(message.process_after)}).")
            return
        if not as_json:
            console.print(f"Sent {message.id} to {message.session}; waiting for the answer…", highlight=False)
        _wait_for_answer(inbox, message, cursor, limit.total_seconds(), as_json)


def _newest_outbox_id(inbox: Inbox, session: str) -> str:
    newest = inbox.outbox(session=session, limit=1)
    return newest[-1].id if newest else ""


def _wait_for_answer(inbox: Inbox, message: Message, cursor: str, timeout_s: float, as_json: bool) -> None:
    """Print each outbox row answering ``message`` until the message has ended; exit 1 if it failed or the
    time ran out. The status is read before the outbox: a reply is committed with the ending it belongs to, so
    once the message reads as ended its replies are all there to read."""
    deadline = time.monotonic() + timeout_s
    replies: list[OutboxItem] = []
    while True:
        status = inbox.message(message.id, runs=1).status
        for item in inbox.outbox(session=message.session, after=cursor, limit=1000):
            cursor = item.id
            if item.in_reply_to == message.id:
                replies.append(item)
                if not as_json:
                    console.print(item.text, highlight=False)
        if not Status(status).is_live:
            break
        if time.monotonic() >= deadline:
            fail(f"no answer to {message.id} within the timeout; it is {status} (see: inbox show {message.id})")
            raise typer.Exit(1)
        time.sleep(WAIT_POLL_S)
    if as_json:
        print_json(
            {
                "message": inbox.message(message.id).model_dump(mode="json"),
                "replies": [r.model_dump(mode="json") for r in replies],
            }
        )
    if status != Status.COMPLETED:
        if not as_json:
            fail(f"{message.id} ended {status} (see: inbox show {message.id})")
        raise typer.Exit(1)


def _source(item: OutboxItem) -> str:
    """Where an outbox row came from: ``reply``, ``reminder from task "standup"``, ``system, task 01J…``."""
    if item.series_id is None:
        return item.kind
    task = f'"{item.task_name}"' if item.task_name else item.series_id
    return f"{item.kind} from task {task}" if item.kind != "system" else f"system, task {task}"


def _delivery(item: OutboxItem) -> str:
    """``[delivered to phone]``, ``[to phone: attempt 2 failed (HTTP 503), retried at …]``; empty for none."""
    if item.channel is None:
        return ""
    tries = f"{item.attempts} attempt{'' if item.attempts == 1 else 's'}"
    if item.delivery == DeliveryStatus.DELIVERED:
        return f" [delivered to {item.channel}]"
    if item.delivery == DeliveryStatus.FAILED:
        return f" [delivery to {item.channel} failed after {tries}: {item.delivery_error}]"
    if item.delivery_error:
        return f" [to {item.channel}: {tries} failed ({item.delivery_error}); next {when(item.next_attempt_at)}]"
    return f" [to {item.channel}: pending]"


def _show(item: OutboxItem) -> None:
    from rich.text import Text

    console.print(
        Text.assemble(
            (when(item.created_at), "dim"),
            " ",
            (item.session, "bold"),
            f" ({_source(item)}): {item.text}",
            (_delivery(item), "dim"),
        ),
        highlight=False,
    )


def outbox(
    session: Annotated[str | None, typer.Option("--session", "-s")] = None,
    limit: Limit = None,
    every: Every = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new messages.")] = False,
    as_json: Json = False,
) -> None:
    """What the assistant (and reminders, and failure notices) sent: the newest items, oldest first."""
    wanted = rows_wanted(limit, every)
    with open_inbox() as inbox:
        page = inbox.outbox_page(session=session, limit=wanted, count=True)
        items = page.rows
        if as_json and not follow:
            print_json(items)
            tell_more(page, "older")
            return
        # Following with --json prints one JSON object per line, so a program can read it as it comes.
        emit = _json_line if as_json else _show
        for item in items:
            emit(item)
        tell_more(page, "older")
        last = items[-1].id if items else None
        while follow:
            time.sleep(FOLLOW_POLL_S)
            for item in inbox.outbox(session=session, limit=None, after=last or ""):
                emit(item)
                last = item.id


def _json_line(item: OutboxItem) -> None:
    sys.stdout.write(item.model_dump_json() + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command()(send)
    app.command()(outbox)
