"""Telling a store that cannot be used right now (waited out, told once) from a mistake (raised as before).

Real errors from real databases: a lock held by another connection and a server that refuses connections pass by
themselves; a statement the database cannot run does not, and must not be waited out for minutes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from inbox.store.outage import describe_outage, is_outage


def _error(url: str, statement: str, **connect_args: object) -> DBAPIError:
    engine = create_engine(url, connect_args=connect_args)
    try:
        with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
            conn.execute(text(statement))
        return caught.value
    finally:
        engine.dispose()


def test_a_locked_sqlite_store_is_an_outage_and_a_bad_statement_is_not(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = _error(f"sqlite:///{path}", "INSERT INTO t VALUES (1)", timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert is_outage(locked), locked
    assert str(path) in describe_outage(create_engine(f"sqlite:///{path}"), locked)
    mistake = _error(f"sqlite:///{path}", "SELECT * FROM no_such_table")
    assert not is_outage(mistake), mistake


def test_a_postgresql_server_that_refuses_connections_is_an_outage() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/inbox"  # nothing listens on port 1
    refused = _error(url, "SELECT 1", connect_timeout=2)
    assert is_outage(refused), refused
    line = describe_outage(create_engine(url), refused)
    assert line.startswith("the store at 127.0.0.1:1/inbox cannot be used: ") and "\n" not in line
