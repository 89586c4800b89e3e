"""``inbox token create|list|revoke``: the tokens of the HTTP API, shared by every host on the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, errors, print_json, table, when

if TYPE_CHECKING:
    from inbox.views import TokenInfo

app = typer.Typer(
    help="Tokens of the HTTP API and the dashboard (the store keeps only their digests).", no_args_is_help=True
)
SCOPE_HELP = "read (look only: GET routes, the dashboard, /metrics) | send (also send messages) | admin (everything)"


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. laptop or backup-job.")],
    scope: Annotated[str, typer.Option("--scope", help=SCOPE_HELP)] = "admin",
    as_json: Json = False,
) -> None:
    """Make a token and print it, this once: only its digest is kept."""
    with open_inbox() as inbox:
        made = inbox.create_token(name, scope=scope)
    if as_json:
        print_json(made)
        return
    # The token alone on standard output, so `TOKEN=$(inbox token create NAME)` keeps just the token.
    errors.print(f"Created {made.scope} token {made.name!r} ({made.id}); it is shown only now:", highlight=False)
    console.print(made.token, highlight=False, markup=False)


def _last_event(token: TokenInfo) -> str:
    if token.revoked_at is not None:
        return f"revoked {when(token.revoked_at)}"
    return f"used {when(token.last_used_at)}" if token.last_used_at else "never used"


@app.command(name="list")
def list_tokens(as_json: Json = False) -> None:
    """Every token, active and revoked (never the token itself)."""
    with open_inbox() as inbox:
        found = inbox.tokens()
    if as_json:
        print_json(found)
        return
    grid = table("ID", "NAME", "SCOPE", "STATUS", "CREATED", "BY", "LAST")
    for token in found:
        grid.add_row(
            token.id,
            token.name,
            token.scope,
            token.status,
            when(token.created_at),
            token.created_by,
            _last_event(token),
        )
    console.print(grid)


@app.command()
def revoke(
    ident: Annotated[str, typer.Argument(metavar="ID|NAME", help="The token's id, or the name of an active one.")],
    as_json: Json = False,
) -> None:
    """Refuse the token from the next request on, on every host that shares the store."""
    with open_inbox() as inbox:
        revoked = inbox.revoke_token(ident)
    if as_json:
        print_json(revoked)
    else:
        console.print(f"Revoked token {revoked.name!r} ({revoked.id}).", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="token")
