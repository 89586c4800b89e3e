"""Host commands: serve (the sweeper loop) and sweep --once."""

import logging
import signal
import threading
from typing import Annotated

import typer

from inbox.cli.options import open_inbox
from inbox.cli.render import console, print_json
from inbox.errors import InvalidInput
from inbox.store.types import utcnow


def serve(
    interval: Annotated[float | None, typer.Option("--interval", help="Seconds between safety-net sweeps.")] = None,
) -> None:
    """Run the sweeper: due reminders are delivered; a sweep runs every interval and when a row comes due."""
    from datetime import timedelta

    from sweeper.loop import run_loop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with open_inbox() as inbox:
        every = interval if interval is not None else inbox.settings.number("INBOX_SWEEP_INTERVAL", 60.0)
        if every <= 0:
            raise InvalidInput("interval", "must be greater than zero")
        grace = timedelta(seconds=inbox.settings.number("INBOX_MISFIRE_GRACE", 60.0))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        console.print(f"inbox serve: store {inbox.url.split('@')[-1]}, sweep every {every:g} s", highlight=False)
        run_loop(inbox.engine, interval_s=every, stop=stop, grace=grace)


def sweep(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One sweep pass: recover expired leases, deliver due reminders, list sessions waiting for a runner."""
    from datetime import timedelta

    from sweeper.sweep import sweep_once

    if not once:
        raise InvalidInput("--once", "sweep runs a single pass; use `inbox serve` for the loop")
    with open_inbox() as inbox:
        grace = timedelta(seconds=inbox.settings.number("INBOX_MISFIRE_GRACE", 60.0))
        report = sweep_once(inbox.engine, now=utcnow(), grace=grace)
    if as_json:
        print_json(
            {"recovered": report.recovered, "delivered": report.delivered, "waiting_sessions": report.waiting_sessions}
        )
    else:
        console.print(
            f"recovered {report.recovered}, delivered {report.delivered} reminders; "
            f"waiting for a runner: {report.waiting_sessions or 'none'}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(sweep)
