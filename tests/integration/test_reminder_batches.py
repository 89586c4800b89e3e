"""Reminders the host ends in batches write exactly what the one-by-one path writes, and keep every policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from inbox import Inbox
from inbox.defaults import DEFAULT_MISFIRE_GRACE
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from inbox.store.reminders import deliver_recurring_reminders
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, live, rows

# Columns that differ between two equal series by construction (their ids) or by who ended them.
_IDENTITY = {"id", "series_id", "session", "name", "message_id", "runner"}

SERIES: list[dict[str, Any]] = [
    {"every": "1h"},
    {"every": "1h", "max_runs": 1},
    {"every": "1h", "catch_up": "skip"},
    {"cron": "0 14 * * *", "tz": "Europe/London"},  # 13:00 UTC in June
    {"cron": "0 * * * *", "tz": "America/New_York", "catch_up": "all"},
]


def _make(inbox: Inbox, session: str) -> list[str]:
    return [
        inbox.schedule(f"reminder {i}", session=session, name=f"{session}-{i}", remind=True, **spec).series_id
        for i, spec in enumerate(SERIES)
    ]


def _state(inbox: Inbox, series_id: str) -> list[dict[str, Any]]:
    """Every row and run of a series, without the columns that name it."""
    with transaction(inbox.engine) as db:
        found = db.exec(select(MessageIn).where(MessageIn.series_id == series_id).order_by(col(MessageIn.id)))
        messages = [r.model_dump(exclude=_IDENTITY, warnings=False) for r in found.all()]
        ran = db.exec(select(Run).where(Run.series_id == series_id).order_by(col(Run.id)))
        return messages + [r.model_dump(exclude=_IDENTITY, warnings=False) for r in ran.all()]


def test_a_batch_writes_the_same_rows_and_runs_as_ending_one_by_one(inbox: Inbox, clock: Clock) -> None:
    one_by_one = _make(inbox, "general")
    batched = _make(inbox, "batched")
    clock.set(datetime(2026, 6, 1, 13, 0, 20, tzinfo=UTC))  # every series is due, within the misfire grace

    for row in claim(inbox, session="general", limit=100):
        end(inbox, row.id)
    with transaction(inbox.engine) as db:
        ended = deliver_recurring_reminders(db, now=clock(), limit=100, runner="host", grace=DEFAULT_MISFIRE_GRACE)

    assert ended == len(SERIES)  # all in the batch, none left to the one-by-one path
    for general, batch in zip(one_by_one, batched, strict=True):
        assert _state(inbox, batch) == _state(inbox, general)
    assert sorted(o.text for o in inbox.outbox(session="batched")) == sorted(f"reminder {i}" for i in range(5))


def test_many_series_sharing_a_slot_each_get_exactly_one_next_row(inbox: Inbox, clock: Clock) -> None:
    made = [inbox.schedule(f"r{i}", cron="0 13 * * *", tz="UTC", remind=True).series_id for i in range(1200)]
    clock.set(datetime(2026, 6, 1, 13, 0, 5, tzinfo=UTC))

    assert sweep_once(inbox.engine, now=clock()).delivered == 1200  # more than one batch
    assert sweep_once(inbox.engine, now=clock()).delivered == 0
    for series_id in made[::97]:
        [following] = live(inbox, series_id)
        assert following.occurrence_at == datetime(2026, 6, 2, 13, 0, tzinfo=UTC)
        assert following.occurrence_no == 2
    assert len(inbox.outbox(limit=5000)) == 1200


def _host_down_then_sweep(inbox: Inbox, clock: Clock, policy: str) -> str:
    clock.set(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    series = inbox.schedule("daily", cron="0 9 * * *", tz="UTC", remind=True, catch_up=policy).series_id
    clock.set(datetime(2026, 6, 4, 10, 0, tzinfo=UTC))  # Monday to Thursday 09:00 passed while the host was down
    sweep_once(inbox.engine, now=clock())
    return series


def test_a_reminder_behind_by_several_slots_is_delivered_once_under_once(inbox: Inbox, clock: Clock) -> None:
    series = _host_down_then_sweep(inbox, clock, "once")
    assert [o.text for o in inbox.outbox()] == ["daily"]
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def test_a_reminder_behind_by_several_slots_delivers_nothing_late_under_skip(inbox: Inbox, clock: Clock) -> None:
    series = _host_down_then_sweep(inbox, clock, "skip")
    assert inbox.outbox() == []
    assert [r.outcome for r in inbox.runs(series)] == ["missed"] * 4
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def test_a_reminder_behind_by_several_slots_delivers_each_in_one_pass_under_all(inbox: Inbox, clock: Clock) -> None:
    series = _host_down_then_sweep(inbox, clock, "all")
    assert [o.text for o in inbox.outbox()] == ["daily"] * 4
    slots = sorted(r.occurrence_at for r in rows(inbox, series) if r.status == "completed" and r.occurrence_at)
    assert slots == [datetime(2026, 6, d, 9, 0, tzinfo=UTC) for d in (1, 2, 3, 4)]
    [following] = live(inbox, series)
    assert following.occurrence_at == datetime(2026, 6, 5, 9, 0, tzinfo=UTC)


def test_a_paused_reminder_is_not_delivered_until_resumed(inbox: Inbox, clock: Clock) -> None:
    series = inbox.schedule("paused one", every="1h", remind=True).series_id
    inbox.pause(series)
    clock.advance(hours=1, seconds=1)
    assert sweep_once(inbox.engine, now=clock()).delivered == 0
    inbox.resume(series)
    assert sweep_once(inbox.engine, now=clock()).delivered == 1
    assert [o.text for o in inbox.outbox()] == ["paused one"]
