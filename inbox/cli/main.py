"""The ``inbox`` command. Exit codes: 0 success, 2 invalid input (nothing written), 1 runtime failure."""

import sys
from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> None:
    """The ``inbox`` command on ``argv`` (default: the process's arguments); always ends in ``sys.exit``.

    ``inbox tasks`` is answered from a SQLite store with ``sqlite3`` when that can be exact (inbox.cli.quick_tasks):
    Typer, the models and SQLAlchemy then stay unloaded. Every other command, and ``tasks`` otherwise, goes through
    the Typer application (inbox.cli.app).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["tasks"]:
        from inbox.cli import quick_tasks

        try:
            if quick_tasks.listed(args[1:]):
                sys.exit(0)
        except KeyboardInterrupt:
            sys.exit(130)  # as the full path ends on Ctrl-C
    from inbox.cli import app

    app.run(args)


if __name__ == "__main__":
    run()
