"""``inbox mcp``: the inbox as an MCP server on standard input and output (docs/mcp.md)."""

from __future__ import annotations

import typer

from inbox.cli.options import open_inbox


def mcp() -> None:
    """Serve the Model Context Protocol on stdin/stdout, for an MCP client that starts this command: the tools
    schedule and manage tasks, send messages and read the outbox, in any session. What they write is
    recorded as created by `mcp`."""
    import anyio  # the SDK and its event loop only for this command: every other one starts without them

    from inbox.mcp.server import acting_inbox, serve_stdio

    with open_inbox() as inbox, acting_inbox(inbox) as acting:
        anyio.run(serve_stdio, acting)


def register(app: typer.Typer) -> None:
    app.command()(mcp)
