"""Stores of either backend filled with series of every kind, for the tests that copy stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from inbox import Inbox
from sweeper.sweep import sweep_once
from tests.conftest import Clock, pg_store
from tests.integration.helpers import claim

PAIRS = [
    pytest.param("sqlite", "postgres", marks=pytest.mark.postgres, id="sqlite-to-postgres"),
    pytest.param("postgres", "sqlite", marks=pytest.mark.postgres, id="postgres-to-sqlite"),
    pytest.param("sqlite", "sqlite", id="sqlite-to-sqlite"),
]
ENV = {"INBOX_TZ": "UTC"}


@contextmanager
def opened(backend: str, folder: Path, clock: Clock) -> Iterator[Inbox]:
    folder.mkdir(exist_ok=True)
    env = {**ENV, "INBOX_HOME": str(folder)}
    if backend == "sqlite":
        with Inbox(f"sqlite:///{folder / 'inbox.db'}", env=env, clock=clock) as inbox:
            yield inbox
        return
    with pg_store() as url, Inbox(url, env=env, clock=clock) as inbox:
        yield inbox


def fill(inbox: Inbox, clock: Clock) -> dict[str, str]:
    """Series of every kind, some of them moved on by a sweep and a run; returns names to series ids."""
    made = {
        "weekday": inbox.schedule(
            "Weekday check", cron="0 9 * * 1-5", tz="Europe/Paris", name="weekday", script="echo '{}'"
        ),
        "stretch": inbox.schedule("Stretch", every="1h30m", remind=True, name="stretch"),
        "dentist": inbox.schedule("Dentist", at="2026-07-01T10:00", tz="America/New_York", remind=True),
        "digest": inbox.schedule("Digest", cron="@daily", tz="Asia/Tokyo", name="digest"),
        "plants": inbox.schedule(
            "Plants", every="1d", max_runs=3, catch_up="all", context="series", retries=1, timeout="10m",
            session="garden", model="small-1", provider="openai", name="plants",
        ),
        "gone": inbox.schedule("Gone", every="2h", name="gone"),
        "long": inbox.schedule("Long job", every="1h", name="long"),
    }  # fmt: skip
    inbox.pause(made["digest"].series_id)
    inbox.cancel(made["gone"].series_id)
    clock.advance(hours=1, minutes=31)
    sweep_once(inbox.engine, now=clock())  # stretch's first reminder goes out; its second occurrence is written
    [running] = [r for r in claim(inbox) if r.series_id == made["long"].series_id]
    inbox.update(made["long"].series_id, prompt="Long job, reworded")  # waits for the running occurrence
    inbox.pause(made["long"].series_id)  # so does the pause
    assert running.status == "running"
    return {name: scheduled.series_id for name, scheduled in made.items()}


def listed(inbox: Inbox) -> dict[str, dict[str, Any]]:
    keep = ("name", "session", "status", "schedule", "timezone", "next_run", "prompt", "script", "remind")
    more = ("catch_up", "max_runs", "context", "created_by", "created_at", "reason")
    return {
        t.series_id: {k: v for k, v in t.model_dump().items() if k in keep + more}
        for t in inbox.tasks(status="all")
        if t.status not in ("completed", "cancelled", "failed", "ended")
    }
