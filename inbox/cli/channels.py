"""``inbox channel add|list|remove`` and ``inbox session set|list``: where the outbox is delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, errors, print_json, table, when

if TYPE_CHECKING:
    from inbox.views import ChannelInfo

channel_app = typer.Typer(help="Delivery channels: where outbox rows are sent (webhook, command, smtp).")
session_app = typer.Typer(help="Session settings: the channel a session's outbox rows go to, its active hours.")


@channel_app.command()
def add(
    name: Annotated[str, typer.Argument(help="What to call it, e.g. phone or mail.")],
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST each row as JSON to this URL.")] = None,
    secret: Annotated[
        str | None, typer.Option("--secret", help="The webhook's HMAC-SHA256 key (default: one is made).")
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", help="Run this program with each row as JSON on stdin.")
    ] = None,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="Mail each row through this server: smtp[s]://[USER:PASS@]HOST[:PORT].")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="smtp: the address to mail.")] = None,
    sender: Annotated[str | None, typer.Option("--from", help="smtp: the From address.")] = None,
    as_json: Json = False,
) -> None:
    """Add a channel: exactly one of --webhook, --command or --smtp (with --to)."""
    with open_inbox() as inbox:
        made = inbox.add_channel(name, webhook=webhook, secret=secret, command=command, smtp=smtp, to=to, sender=sender)
    if as_json:
        print_json(made)
        return
    console.print(f"Added {made.kind} channel {made.name!r}: {made.target}", highlight=False)
    if made.secret is not None and secret is None:
        errors.print("Requests are signed with this secret (X-Inbox-Signature); it is shown only now:", highlight=False)
        console.print(made.secret, highlight=False)
    console.print(f"Use it: inbox session set SESSION --deliver {made.name}", highlight=False)


def _used_by(channel: ChannelInfo) -> str:
    return ", ".join(channel.sessions) or "-"


@channel_app.command(name="list")
def list_channels(as_json: Json = False) -> None:
    """Every channel (never a secret or password)."""
    with open_inbox() as inbox:
        found = inbox.channels()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No channels. Add one: inbox channel add NAME --webhook URL")
        return
    grid = table("name", "kind", "target", "sessions", "created")
    for channel in found:
        target = channel.target + (f" to {channel.to}" if channel.to else "")
        grid.add_row(channel.name, channel.kind, target, _used_by(channel), when(channel.created_at))
    console.print(grid)


@channel_app.command()
def remove(
    name: Annotated[str, typer.Argument(help="The channel's name.")],
    as_json: Json = False,
) -> None:
    """Remove a channel no session or live task uses; rows still waiting to go through it fail."""
    with open_inbox() as inbox:
        removed = inbox.remove_channel(name)
    if as_json:
        print_json(removed)
    else:
        console.print(f"Removed channel {removed.name!r}.", highlight=False)


@session_app.command(name="set")
def set_session(
    session: Annotated[str, typer.Argument(help="The session (conversation), e.g. main.")],
    deliver: Annotated[
        str | None, typer.Option("--deliver", help="The channel its outbox rows go to; none: the outbox only.")
    ] = None,
    active_hours: Annotated[
        str | None,
        typer.Option(
            "--active-hours",
            help="HH:MM-HH:MM: its tasks without their own window run only then (each in its own zone); '' removes.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Set a session's default channel and active hours (a task's own --deliver and --active-hours win over them)."""
    with open_inbox() as inbox:
        settings = inbox.set_session(session, deliver=deliver, active_hours=active_hours)
    if as_json:
        print_json(settings)
    else:
        console.print(
            f"Session {settings.session} delivers to: {settings.deliver}; "
            f"active hours: {settings.active_hours or 'any hour'}",
            highlight=False,
        )


@session_app.command(name="list")
def list_sessions(as_json: Json = False) -> None:
    """The sessions that have settings: their channels and active hours."""
    with open_inbox() as inbox:
        found = inbox.sessions()
    if as_json:
        print_json(found)
        return
    grid = table("session", "deliver", "active hours", "set")
    for settings in found:
        set_by = f"{when(settings.updated_at)} by {settings.updated_by}"
        grid.add_row(settings.session, settings.deliver, settings.active_hours or "any hour", set_by)
    console.print(grid)


def register(root: typer.Typer) -> None:
    root.add_typer(channel_app, name="channel")
    root.add_typer(session_app, name="session")
