"""When the store cannot be used for a while: its database server is down or restarting, the network to it is
gone, or the disk under a SQLite store is full.

Such errors are not bugs and say nothing about the work at hand: whoever meets one (the host's loop, a runner's
request) waits and tries again, and tells the user in one line what is wrong, not with a traceback per attempt.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# What SQLAlchemy raises when the database refuses or loses a connection, a server shuts down, a write finds the
# disk full, or a lock could not be had in time; :func:`is_outage` tells those apart from the other errors of
# these kinds (a statement SQLite cannot run, say), which are mistakes and are not waited out.
STORE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
# SQLite result codes (their low byte) that pass by themselves: disk full, busy or locked, I/O error, cannot open.
_SQLITE_AWAY = frozenset({5, 6, 10, 13, 14, 15})
# PostgreSQL SQLSTATE classes: connection exception, transaction rollback (serialization, deadlock), insufficient
# resources (disk full, out of memory, too many connections), operator intervention (shutdown), system error.
_POSTGRES_AWAY = frozenset({"08", "40", "53", "57", "58"})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the store cannot be used right now (rather than a mistake in what was asked)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True  # the connection is closed or broken
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code is None or code & 0xFF in _SQLITE_AWAY
    state = getattr(orig, "sqlstate", None)
    return state is None or str(state)[:2] in _POSTGRES_AWAY  # no state: the connection itself failed


def disk_full(exc: BaseException) -> bool:
    """Whether a SQLite write failed because its disk is full."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.Error) and getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def _free(path: Path) -> str:
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "unknown"
    return f"{free / 1024:.0f} KiB" if free < 1024 * 1024 else f"{free / 1024 / 1024:.0f} MiB"


def describe_outage(engine: Engine, exc: BaseException) -> str:
    """One line for the log: what is wrong and where (the disk and its free space, or the server)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").expanduser().resolve()
        if disk_full(exc):
            free = _free(path.parent)
            return f"the disk holding the store is full ({path}, {free} free): writes fail until space returns"
        return f"the store {path} cannot be used: {_first_line(exc)}"
    where = f"{url.host or 'local socket'}:{url.port or 5432}/{url.database or ''}"
    return f"the store at {where} cannot be used: {_first_line(exc)}"
