"""PostgreSQL with its own tools: ``pg_dump`` in custom format, ``pg_restore`` back into the store's schema.

The dump holds the store's schema only (``current_schema()`` of the store's URL), without owners or grants, so it
restores under another role. pg_dump reads one consistent snapshot while hosts go on writing. The password, if
the URL has one, reaches the tools through ``PGPASSWORD``, never on a command line others can see.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from inbox.backup.revisions import VERSION_TABLE, check_revision
from inbox.backup.rows import drop_store_tables
from inbox.errors import InvalidInput

TIMEOUT_S = 3600


class ToolFailed(Exception):
    """pg_dump or pg_restore is missing or exited non-zero; the text says which and why."""


def available() -> bool:
    return shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def schema_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def _run(command: list[str], env: dict[str, str]) -> str:
    tool = shutil.which(command[0])
    if tool is None:
        raise ToolFailed(f"{command[0]} is not installed (PostgreSQL's client tools)")
    done = subprocess.run([tool, *command[1:]], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        raise ToolFailed(f"{command[0]} failed: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def dump(engine: Engine, path: Path) -> None:
    url, env = _libpq(engine)
    schema = schema_of(engine)
    _run(["pg_dump", "--format=custom", f"--schema={schema}", "--no-owner", "--no-privileges",
          f"--file={path}", f"--dbname={url}"], env)  # fmt: skip


def _entries(path: Path) -> list[str]:
    return _run(["pg_restore", "--list", str(path)], dict(os.environ)).splitlines()


def check(path: Path) -> tuple[str, str]:
    """The schema a dump holds and its revision; InvalidInput when it is not a whole dump of an inbox store."""
    schema, revision, _tables = read(path)
    return schema, revision


def read(path: Path) -> tuple[str, str, frozenset[str]]:
    """What :func:`check` says, and the names of the tables the dump holds."""
    try:
        entries = _entries(path)
        tables = [line.split() for line in entries if re.match(r"^\d+; \d+ \d+ TABLE ", line)]
        version = _run(
            ["pg_restore", "--data-only", f"--table={VERSION_TABLE}", "--file=-", str(path)], dict(os.environ)
        )
    except ToolFailed as failed:
        raise InvalidInput("FILE", f"{path} cannot be read as a pg_dump: {failed}") from None
    names = {fields[5]: fields[4] for fields in tables if len(fields) > 5}
    if VERSION_TABLE not in names or "messages_in" not in names:
        raise InvalidInput("FILE", f"{path} is a pg_dump but not of an inbox store")
    lines = version.splitlines()
    copy = next((i for i, line in enumerate(lines) if line.startswith("COPY ")), None)
    revision = lines[copy + 1].strip() if copy is not None and copy + 1 < len(lines) else None
    return names["messages_in"], check_revision(revision), frozenset(names)


def restore(engine: Engine, path: Path) -> None:
    """Replace the store's tables with the dump's, in one transaction: the dump's tables are dropped and made
    again by pg_restore itself (``--clean``), so a restore that fails leaves the store as it was. Tables the dump
    lacks (made by a newer schema revision) are dropped first."""
    drop_store_tables(engine, keep=read(path)[2])
    url, env = _libpq(engine)
    keep = [line for line in _entries(path) if not re.match(r"^\d+; \d+ \d+ SCHEMA ", line)]
    with tempfile.NamedTemporaryFile("w", prefix="inbox-restore-", suffix=".list", delete=False) as listing:
        listing.write("\n".join(keep) + "\n")
    try:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", f"--use-list={listing.name}", f"--dbname={url}", str(path)], env)  # fmt: skip
    finally:
        os.unlink(listing.name)
