"""Host commands: serve (sweeper, runners and HTTP API) and sweep --once."""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import sqlite3
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from inbox import logs
from inbox.cli.options import open_inbox
from inbox.cli.render import console, errors, fail, print_json
from inbox.errors import InvalidInput

if TYPE_CHECKING:
    from inbox.api import Inbox
    from sweeper.host import Host
    from sweeper.host_config import HostConfig
    from sweeper.runtimes.choose import Choice


MAX_PORT = 65_535
# Optional imports the host's libraries make only because a package happens to be installed, of what the host never
# uses: httpx imports its command-line client (with Rich's syntax highlighting and Pygments' lexers), and httpcore
# imports trio for callers running under trio (the host runs asyncio and threads). Both go on without when the
# import fails, which a None entry in sys.modules makes it do.
UNUSED_IMPORTS = ("httpx._main", "trio")
# SQLite's page caches of all the host's connections together: as much as one connection keeps by default. Otherwise
# each pooled connection keeps that much of its own, which a commit by any other connection empties anyway.
SQLITE_CACHES_BYTES = 2 * 1024 * 1024
RUNTIME_HELP = "docker | process (default: INBOX_RUNTIME, else docker when an engine answers and the image exists)"


def _host(
    inbox: Inbox, config: HostConfig, runtime: str | None, *, command: str, listen: str | None = None
) -> tuple[Host, Choice]:
    """The host ``inbox serve`` and ``inbox sweep --once`` both run, on the runtime chosen the same way."""
    from sweeper.host import Host, UnsafeSocketFolder
    from sweeper.host_config import RUNTIMES
    from sweeper.runtimes.choose import RuntimeUnavailable, choose_runtime

    if runtime is not None and runtime not in RUNTIMES:
        raise InvalidInput("--runtime", f"{runtime!r} is not one of: {', '.join(RUNTIMES)}")
    try:
        choice = choose_runtime(inbox.settings, runtime)
    except RuntimeUnavailable as exc:
        errors.print(f"inbox {command}: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    try:
        return Host(inbox, config, listen=listen, runtime_factory=choice.factory), choice
    except UnsafeSocketFolder as exc:
        errors.print(f"inbox {command}: {exc}", highlight=False)
        raise typer.Exit(1) from exc


def serve(
    interval: Annotated[float | None, typer.Option("--interval", help="Seconds between safety-net sweeps.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help=RUNTIME_HELP)] = None,
    listen: Annotated[
        str | None, typer.Option("--listen", help="HOST:PORT for the HTTP API (port 0: any free port).")
    ] = None,
) -> None:
    """Run the host: the sweeper, a runner per session with due work, and the HTTP API (/v1, and /mcp for MCP
    clients)."""
    from sweeper.host import ServerDidNotStart
    from sweeper.host_config import HostConfig

    if listen is not None:
        check_listen(listen)
    _lean_process()
    with open_inbox() as inbox:
        logs.configure(logging.INFO, "%(asctime)s %(name)s %(message)s", form=inbox.settings.log_format)
        config = HostConfig.from_settings(inbox.settings)
        if interval is not None:
            if interval <= 0:
                raise InvalidInput("interval", "must be greater than zero")
            config = replace(config, interval_s=interval)
        try:
            host, choice = _host(inbox, config, runtime, command="serve", listen=listen)
        except socket.gaierror as exc:
            raise InvalidInput("--listen", f"{listen!r}: unknown host ({exc.strerror})") from exc
        except OSError as exc:
            if listen is None:
                raise
            fail(f"error: cannot listen on {listen}: {_bind_problem(exc)}")
            raise typer.Exit(1) from exc
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: host.request_stop())
        say = console.print if config.log_format == "text" else _log_line
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
                f"listening on http://{address}:{port} (admin token: {host.admin_tokens}); "
                f"the dashboard is at http://{address}:{port}/",
                highlight=False,
            )
            say(f"MCP clients: http://{address}:{port}/mcp, with the same token (docs/mcp.md)", highlight=False)
        else:
            say("HTTP API: off; to use it, start with --listen 127.0.0.1:8080", highlight=False)
        try:
            host.run()
        except ServerDidNotStart as exc:
            fail(f"error: {exc}")
            raise typer.Exit(1) from exc


def _lean_process() -> None:
    """What keeps the long-lived host process small (docs/benchmarks.md, "Host memory"); before anything imports
    httpx. The SQLite budget is the process's, whichever connection sets it."""
    for name in UNUSED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "cannot be imported"
    with contextlib.closing(sqlite3.connect(":memory:")) as any_connection:
        any_connection.execute(f"PRAGMA soft_heap_limit={SQLITE_CACHES_BYTES}")


def _log_line(text: str, **_: object) -> None:
    """What ``inbox serve`` says at start, as a log line: with INBOX_LOG_FORMAT=json every line it writes is JSON."""
    logging.getLogger("inbox.host").info("%s", text)


def check_listen(listen: str) -> None:
    # An empty host means 127.0.0.1; an unknown one is refused when binding.
    _, colon, port = listen.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= MAX_PORT:
        raise InvalidInput(
            "--listen", f"{listen!r} is not HOST:PORT with a port from 0 to {MAX_PORT} (e.g. 127.0.0.1:8080; 0: any)"
        )


def _bind_problem(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use (another inbox serve, or another program, listens there)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return exc.strerror or str(exc)


def sweep(
    once: Annotated[bool, typer.Option("--once", help="One complete pass, then exit.")] = False,
    runtime: Annotated[str | None, typer.Option("--runtime", help=RUNTIME_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One complete pass for cron or a systemd timer: recover expired leases, deliver due reminders, run every due
    task and message through runners as `inbox serve` would, wait for them, and exit (1 if a runner could not be
    started or died)."""
    from sweeper.host_config import HostConfig
    from sweeper.once import RUNNER_IDLE_S, sweep_pass

    if not once:
        raise InvalidInput("--once", "sweep runs a single pass; use `inbox serve` for the loop")
    # Quiet unless something is wrong: cron mails whatever a job prints.
    with open_inbox() as inbox:
        logs.configure(logging.WARNING, "inbox sweep: %(message)s", form=inbox.settings.log_format)
        config = HostConfig.from_settings(inbox.settings)
        config = replace(config, runner_idle_s=min(config.runner_idle_s, RUNNER_IDLE_S), runner_log_level="WARNING")
        host, _choice = _host(inbox, config, runtime, command="sweep")
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: host.request_stop())  # the runners stop as with `inbox serve`
        report = sweep_pass(host)
    if as_json:
        print_json(report.as_json())
    else:
        console.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(sweep)
