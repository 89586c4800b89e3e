"""The ``inbox`` command. Exit codes: 0 success, 2 invalid input (nothing written), 1 runtime failure."""

import sys
from typing import NoReturn

import typer
from sqlalchemy.exc import OperationalError

from inbox.cli import messages, serve, tasks, tools
from inbox.cli.render import fail
from inbox.errors import Conflict, InvalidInput, NotFound

app = typer.Typer(
    name="inbox",
    help="A scheduler for a personal AI assistant: every task is a delayed message.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
tasks.register(app)
messages.register(app)
tools.register(app)
serve.register(app)


def _exit(code: int, message: str) -> NoReturn:
    fail(message)
    sys.exit(code)


def run() -> None:
    try:
        app()
    except (InvalidInput, NotFound, Conflict) as error:
        _exit(2, f"error: {error}")
    except OperationalError as error:
        _exit(1, f"the store could not be used: {error.orig}")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
