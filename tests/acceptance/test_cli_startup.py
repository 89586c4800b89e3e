"""A command loads only what it uses: ``inbox --help`` no store at all, a store command not the web server, the
MCP SDK, Docker or Alembic (once the store is current), nor rich when it prints JSON; ``inbox tasks`` on a current
SQLite store not even SQLAlchemy. Each library loaded costs
every start of the command; the figures are in docs/benchmarks.md (bench/cli_startup.py).
"""

from __future__ import annotations

import re

from tests.acceptance.conftest import Cli

# Libraries of other commands (serve, mcp, runner, the dashboard) and of migrating an old store.
NOT_FOR_A_STORE_COMMAND = frozenset(
    {"alembic", "mako", "fastapi", "starlette", "uvicorn", "mcp", "anyio", "docker", "jinja2", "httpx"}
    | {"prometheus_client", "watchfiles", "sweeper"}
)
# What a command's help needs is the command line's own description: no store, no models.
NOT_FOR_HELP = NOT_FOR_A_STORE_COMMAND | {"sqlalchemy", "sqlmodel", "psycopg"}
# (Typer itself loads pydantic to convert some options' types, such as --on's list, so only the list of commands
# goes without it, and without rich's tables.)
NOT_FOR_THE_COMMANDS = NOT_FOR_HELP | {"pydantic", "rich"}

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", re.MULTILINE)


def _loaded(cli: Cli, *args: str) -> set[str]:
    """The top-level packages ``inbox ARGS`` imported, as Python's import log (-X importtime) names them."""
    result = cli.run(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr
    packages = {name.split(".")[0] for name in _IMPORTED.findall(result.stderr)}
    assert "inbox" in packages, "the import log was not read"
    return packages


def test_help_loads_no_store_and_no_server(bare_cli: Cli) -> None:
    assert _loaded(bare_cli, "--help") & NOT_FOR_THE_COMMANDS == set()
    assert _loaded(bare_cli, "schedule", "--help") & NOT_FOR_HELP == set()
    assert not bare_cli.home.joinpath("inbox.db").exists()


def test_store_commands_load_neither_the_server_nor_alembic(cli: Cli) -> None:
    cli.ok("tasks")  # creates the store: migrating it is the one time Alembic is needed
    printing_json = NOT_FOR_A_STORE_COMMAND | {"rich"}  # the tables are for people
    assert _loaded(cli, "tasks", "--json") & printing_json == set()
    assert _loaded(cli, "schedule", "stretch", "--every", "1h", "--json") & printing_json == set()
    assert "rich" in _loaded(cli, "tasks")
    assert [task["prompt"] for task in cli.json("tasks", "--json")] == ["stretch"]


def test_tasks_on_a_current_sqlite_store_load_no_store_library(cli: Cli) -> None:
    """``inbox tasks`` reads a SQLite store that is already current with ``sqlite3`` (inbox.cli.quick_tasks): no
    SQLAlchemy, SQLModel, pydantic or Typer, for the table as for JSON. Any other store takes the full path."""
    cli.ok("schedule", "stretch", "--every", "1h")  # creates the store: migrating it is the full path's work
    store_libraries = {"sqlalchemy", "sqlmodel", "pydantic", "typer"}
    if cli.backend == "sqlite":
        assert _loaded(cli, "tasks", "--json") & (NOT_FOR_HELP | store_libraries) == set()
        assert _loaded(cli, "tasks", "--status", "all", "--limit", "5") & (NOT_FOR_HELP | store_libraries) == set()
    else:
        assert {"sqlalchemy", "psycopg"} <= _loaded(cli, "tasks", "--json")
    assert [task["prompt"] for task in cli.json("tasks", "--json")] == ["stretch"]


def test_next_loads_no_store(bare_cli: Cli) -> None:
    """``inbox next`` writes nothing and reads no store: its settings and the schedules are all it needs."""
    assert _loaded(bare_cli, "next", "--every", "1h", "--json") & NOT_FOR_HELP == set()
    assert len(bare_cli.json("next", "--cron", "0 9 * * *", "--count", "3", "--json")) == 3
    assert not bare_cli.home.joinpath("inbox.db").exists()
