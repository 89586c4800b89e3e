"""``inbox hook create|list|delete``: webhooks, each with its own secret (docs/hooks.md)."""

from typing import Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, errors, print_json, table, when

app = typer.Typer(help="Webhooks: POST /v1/hooks/NAME emits the event hook.NAME.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The hook's name (letters, digits, _ and -): the event is hook.NAME.")],
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Only this session's tasks hear it (and --message goes there)."),
    ] = None,
    message: Annotated[
        bool, typer.Option("--message", help="Also drop each body into the session as a chat message.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Make a webhook and print its secret, this once."""
    with open_inbox() as inbox:
        made = inbox.create_hook(name, session=session, message=message)
    if as_json:
        print_json(made)
        return
    # The secret alone on standard output, so `SECRET=$(inbox hook create NAME)` keeps just the secret.
    errors.print(f"Created hook {made.name!r}: POST {made.url}; its secret is shown only now:", highlight=False)
    console.print(made.secret, highlight=False, markup=False)


@app.command(name="list")
def list_hooks(as_json: Json = False) -> None:
    """Every webhook (never its secret)."""
    with open_inbox() as inbox:
        found = inbox.hooks()
    if as_json:
        print_json(found)
        return
    grid = table("NAME", "SESSION", "MESSAGE", "URL", "CREATED", "BY")
    for hook in found:
        grid.add_row(
            hook.name,
            hook.session or "(every)",
            "yes" if hook.message else "no",
            hook.url,
            when(hook.created_at),
            hook.created_by,
        )
    console.print(grid)


@app.command()
def delete(name: Annotated[str, typer.Argument(help="The hook's name.")], as_json: Json = False) -> None:
    """Delete a webhook: calls to it are refused (401) from now on."""
    with open_inbox() as inbox:
        gone = inbox.delete_hook(name)
    if as_json:
        print_json(gone)
    else:
        console.print(f"Deleted hook {gone.name!r}.", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="hook")
