"""Host commands: serve (sweeper, runners and HTTP API) and sweep --once."""

import logging
import signal
from typing import Annotated

import typer

from inbox.cli.options import open_inbox
from inbox.cli.render import console, print_json
from inbox.errors import InvalidInput
from inbox.store.types import utcnow


def serve(
    interval: Annotated[float | None, typer.Option("--interval", help="Seconds between safety-net sweeps.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="docker | process")] = None,
    listen: Annotated[
        str | None, typer.Option("--listen", help="HOST:PORT for the HTTP API (port 0: any free port).")
    ] = None,
) -> None:
    """Run the host: the sweeper, a runner per session with due work, and the HTTP API."""
    from dataclasses import replace

    from sweeper.host import Host
    from sweeper.host_config import RUNTIMES, HostConfig
    from sweeper.runtimes.choose import RuntimeUnavailable, choose_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if listen is not None and (":" not in listen or not listen.rpartition(":")[2].isdigit()):
        raise InvalidInput("--listen", f"{listen!r} is not HOST:PORT (e.g. 127.0.0.1:8080, or port 0 for any)")
    with open_inbox() as inbox:
        config = HostConfig.from_settings(inbox.settings)
        if interval is not None:
            if interval <= 0:
                raise InvalidInput("interval", "must be greater than zero")
            config = replace(config, interval_s=interval)
        if runtime is not None and runtime not in RUNTIMES:
            raise InvalidInput("--runtime", f"{runtime!r} is not one of: {', '.join(RUNTIMES)}")
        try:
            choice = choose_runtime(inbox.settings, runtime)
        except RuntimeUnavailable as exc:
            console.print(f"inbox serve: {exc}", highlight=False)
            raise typer.Exit(1) from exc
        host = Host(inbox, config, listen=listen, runtime_factory=choice.factory)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: host.request_stop())
        say = console.print
        say(f"inbox serve: store {inbox.url.split('@')[-1]}, sweep every {config.interval_s:g} s", highlight=False)
        if choice.name == "docker":
            say(f"runtime: docker, one sandboxed container per session ({choice.why})", highlight=False)
        else:
            guard = "allowed (INBOX_ALLOW_UNSANDBOXED=1)" if config.allow_unsandboxed else "refused"
            say(
                f"runtime: process ({choice.why}); NO SANDBOX: runners are local processes, "
                f"scripts written by an agent are {guard}",
                highlight=False,
            )
        say(f"runners connect on {host.socket_path}", highlight=False)
        if host.tcp_address is not None:
            address, port = host.tcp_address
            say(
                f"listening on http://{address}:{port} (admin token: {host.admin_tokens})",
                highlight=False,
            )
        host.run()


def sweep(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One sweep pass: recover expired leases, deliver due reminders, list sessions waiting for a runner."""
    from sweeper.host_config import HostConfig
    from sweeper.sweep import sweep_once

    if not once:
        raise InvalidInput("--once", "sweep runs a single pass; use `inbox serve` for the loop")
    with open_inbox() as inbox:
        config = HostConfig.from_settings(inbox.settings)
        report = sweep_once(inbox.engine, now=utcnow(), grace=config.grace, backoff=config.backoff)
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
