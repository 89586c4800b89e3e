"""SQLite: an online copy with SQLite's own backup API, checking a copy, and copying one back into a store.

The backup API copies every page of the store in one step, inside one read transaction: with the store in WAL
mode, hosts go on writing meanwhile and the copy is the store as of the moment that transaction began. The copy
is switched to a rollback journal, so it is one self-contained file.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from inbox.backup.revisions import VERSION_TABLE, check_revision
from inbox.errors import InvalidInput

BUSY_TIMEOUT_S = 30


def copy(source: Path, target: Path) -> None:
    """Copy the store at ``source`` into the file ``target`` (made or replaced)."""
    with closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_S)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")


def check(path: Path) -> str:
    """The schema revision of a SQLite backup, once it proved whole and an inbox store; else InvalidInput."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise InvalidInput("FILE", f"{path} is damaged (SQLite says: {verdict})")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if VERSION_TABLE not in tables or "messages_in" not in tables:
                raise InvalidInput("FILE", f"{path} is a SQLite file but not an inbox store")
            versions = [row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
    except sqlite3.DatabaseError as exc:
        raise InvalidInput("FILE", f"{path} cannot be read as SQLite: {exc}") from None
    return check_revision(versions[0] if len(versions) == 1 else None)


def replace_store(backup: Path, store: Path) -> None:
    """Make the store at ``store`` a copy of ``backup``, in one write transaction of the store's own: anyone who
    has the store open sees the old content or the new, never a mixture."""
    store.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(store, timeout=BUSY_TIMEOUT_S)) as dst,
    ):
        src.backup(dst)
