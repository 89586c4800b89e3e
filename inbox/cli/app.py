"""The ``inbox`` command's Typer application, and running it on the arguments (inbox.cli.main starts here, unless
``inbox tasks`` can be answered without it: inbox.cli.quick_tasks)."""

import copy
import sys
from collections.abc import Sequence
from typing import Annotated, NoReturn

import typer

from inbox import __version__
from inbox.cli import (
    audit,
    backups,
    channels,
    chat,
    events,
    graph,
    hooks,
    limits,
    mcp,
    messages,
    runner,
    serve,
    service,
    stats,
    tasks,
    token,
    tools,
    transfer,
    workers,
)
from inbox.cli.options import in_flags
from inbox.cli.render import fail
from inbox.errors import Conflict, InvalidInput, NotFound

# Typer ships its own copy of click; find its exception classes through a public one.
_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(
    name="inbox",
    help="A scheduler for a personal AI assistant: every task is a delayed message.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
tasks.register(app)
graph.register(app)
messages.register(app)
tools.register(app)
serve.register(app)
runner.register(app)
chat.register(app)
token.register(app)
mcp.register(app)
transfer.register(app)
backups.register(app)
service.register(app)
events.register(app)
hooks.register(app)
channels.register(app)
stats.register(app)
audit.register(app)
limits.register(app)
workers.register(app)


def _print_version(asked: bool) -> None:
    if asked:
        sys.stdout.write(f"inbox {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """A scheduler for a personal AI assistant: every task is a delayed message."""


def _command_name(command: typer.models.CommandInfo) -> str | None:
    if command.name is not None:
        return command.name
    return None if command.callback is None else typer.main.get_command_name(command.callback.__name__)


def _for(args: Sequence[str]) -> typer.Typer:
    """The app to run ``args`` with: only the command they name, when they start with one.

    Typer builds the options of every command it holds before it reads the arguments, about as long as the rest
    of a short command's start. The help, the version, a mistyped command (and its "did you mean") get them all.
    """
    name = args[0] if args else ""
    commands = [command for command in app.registered_commands if _command_name(command) == name]
    groups = [group for group in app.registered_groups if group.name == name]
    if not commands and not groups:
        return app
    narrow = copy.copy(app)
    narrow.registered_commands, narrow.registered_groups = commands, groups
    return narrow


def _exit(code: int, message: str) -> NoReturn:
    fail(message)
    sys.exit(code)


def _not_utf8(argv: Sequence[str]) -> str | None:
    """What to say about the first option value that is not UTF-8 text, naming the option; None when all are.

    Python hands such bytes over as lone surrogates, which no command can store, look up or print. Arguments
    that are not option values are left to the command, whose own checks name them ("prompt: ...").
    """
    previous = ""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            option, equals, _ = arg.partition("=")
            if equals and option.startswith("--"):
                return f"{option}: {arg[len(option) + 1 :]!r} is not valid UTF-8 text"
            if previous.startswith("-") and previous != "--":
                return f"{previous}: {arg!r} is not valid UTF-8 text"
        if arg == "--":
            return None  # positional arguments only from here on
        previous = arg
    return None


def run(args: list[str]) -> NoReturn:
    """The ``inbox`` command on ``args``; always ends in ``sys.exit``."""
    problem = _not_utf8(args)
    if problem is not None:
        _exit(2, f"error: {problem}")
    try:
        # Not standalone: usage errors become one line on stderr like every other invalid input.
        code = _for(args)(args=args, prog_name="inbox", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except _USAGE_ERROR as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # plain `inbox`: the help itself, not an error about it
            sys.stderr.write(error.format_message() + "\n")  # type: ignore[attr-defined]
            sys.exit(2)
        _exit(2, f"error: {error.format_message()} (try --help)")  # type: ignore[attr-defined]
    except _CLICK_ERROR as error:
        _exit(error.exit_code, f"error: {error.format_message()}")  # type: ignore[attr-defined]
    except typer.Abort:
        sys.exit(130)
    except InvalidInput as error:
        _exit(2, f"error: {in_flags(error)}")
    except (NotFound, Conflict) as error:
        _exit(2, f"error: {error}")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if _store_unusable(error):
            _exit(1, f"the store could not be used: {error.orig}")  # type: ignore[attr-defined]
        raise


def _store_unusable(error: Exception) -> bool:
    """Whether the store's database refused the command (locked, unreachable, disk full).

    SQLAlchemy is looked up rather than imported: a command that never opened the store has not loaded it, and
    then the error cannot be one of its.
    """
    sql_errors = sys.modules.get("sqlalchemy.exc")
    return sql_errors is not None and isinstance(error, sql_errors.OperationalError)
