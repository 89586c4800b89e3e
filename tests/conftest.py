"""Shared fixtures: one store per test, on every backend.

The PostgreSQL variants run when ``INBOX_TEST_DATABASE_URL`` names a database (each test gets a fresh schema
in it); without it they are left out and one line at the end of the run says so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from inbox import Inbox
from inbox.config import normalize_url

PG_URL_VAR = "INBOX_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgres"]


def pg_base_url() -> str | None:
    url = os.environ.get(PG_URL_VAR)
    return normalize_url(url) if url else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if pg_base_url():
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("postgres") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        config.stash[_not_run] = len(dropped)
        if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller prints the summary
            config.workeroutput["postgres_not_run"] = len(dropped)


_not_run = pytest.StashKey[int]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: every worker collects the whole suite, so each reports the same count."""
    count = getattr(node, "workeroutput", {}).get("postgres_not_run", 0)
    node.config.stash[_not_run] = max(node.config.stash.get(_not_run, 0), count)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    count = config.stash.get(_not_run, 0)
    if count:
        terminalreporter.write_line(
            f"NOTICE: {count} PostgreSQL tests not run: set {PG_URL_VAR}=postgresql://USER@HOST:PORT/DB to run them"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "backend",
            [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)],
        )


def pg_schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def pg_store() -> Iterator[str]:
    """The URL of an empty PostgreSQL store: a schema of its own, dropped afterwards."""
    base = pg_base_url()
    assert base, "postgres tests are deselected without a URL"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(base, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'inbox.db'}"
        return
    with pg_store() as url:
        yield url


@dataclass
class Clock:
    """A clock tests move by hand, so every date in a test is fixed."""

    now: datetime = field(default_factory=lambda: datetime(2026, 6, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, instant: datetime) -> datetime:
        self.now = instant.astimezone(UTC)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An INBOX_HOME of its own, with no zone variables leaking in from the machine."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("INBOX_HOME", str(path))
    for var in ("INBOX_TZ", "TZ", "INBOX_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def inbox(store_url: str, clock: Clock, home: Path) -> Iterator[Inbox]:
    with Inbox(store_url, clock=clock, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as opened:
        yield opened
