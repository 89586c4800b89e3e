"""The wall clock steps an hour forward and back (NTP correcting it, someone setting it), on every backend.

Forward: the slots passed in the step follow each series' catch-up policy, as after any downtime, and running
work keeps its lease (in real time no time passed). Back: a slot that ran stays run, since a series' next row
is always after the slot it follows; the series waits until the clock reaches that slot again, and nothing
runs twice.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.enums import Outcome, Status
from inbox.store.claims import renew
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from sweeper.loop import run_loop
from sweeper.sweep import PassReport, sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim

LEASE = timedelta(seconds=60)


def _runs(inbox: Inbox, series_id: str) -> list[tuple[str, Outcome]]:
    """(slot, outcome) of every run of the series, in the order they were recorded."""
    with transaction(inbox.engine) as db:
        query = select(Run, MessageIn.occurrence_at).join(MessageIn, MessageIn.id == Run.message_id)  # type: ignore[arg-type]
        found = db.exec(query.where(Run.series_id == series_id).order_by(Run.id)).all()  # type: ignore[arg-type]
    return [(slot.isoformat(timespec="minutes"), Outcome(run.outcome)) for run, slot in found]


def _slot(inbox: Inbox, series_id: str) -> str:
    with transaction(inbox.engine) as db:
        [row] = db.exec(
            select(MessageIn).where(MessageIn.series_id == series_id, MessageIn.status == Status.PENDING.value)
        ).all()
    assert row.occurrence_at is not None
    return row.occurrence_at.isoformat(timespec="minutes")


def test_an_hour_forward_follows_the_catch_up_policy_and_an_hour_back_runs_nothing_twice(
    inbox: Inbox, clock: Clock
) -> None:
    every = {
        policy: inbox.schedule(f"stretch ({policy})", every="10m", remind=True, catch_up=policy)
        for policy in ("once", "skip", "all")
    }
    cron = inbox.schedule("quarter past", cron="*/15 * * * *", remind=True)
    series = [*(made.series_id for made in every.values()), cron.series_id]

    def minute_by_minute(minutes: int) -> None:
        for _ in range(minutes):
            clock.advance(minutes=1)
            sweep_once(inbox.engine, now=clock(), clock=clock)

    minute_by_minute(30)  # 12:00 to 12:30: slots 12:10, 12:20, 12:30, and 12:15, 12:30
    before = {s: _runs(inbox, s) for s in series}
    assert [len(before[s]) for s in series] == [3, 3, 3, 2]

    clock.advance(hours=1)  # 13:30: 12:40 to 13:30 passed in the step
    sweep_once(inbox.engine, now=clock(), clock=clock)
    new = {s: _runs(inbox, s)[len(before[s]) :] for s in series}
    completed = Outcome.COMPLETED
    assert new[every["once"].series_id] == [("2026-06-01T13:30+00:00", completed)]  # one run stands for all
    skipped = [(f"2026-06-01T{slot}+00:00", Outcome.MISSED) for slot in ("12:40", "12:50", "13:00", "13:10", "13:20")]
    assert new[every["skip"].series_id] == [*skipped, ("2026-06-01T13:30+00:00", completed)]
    every_slot = [slot for slot, _ in skipped] + ["2026-06-01T13:30+00:00"]
    assert new[every["all"].series_id] == [(slot, completed) for slot in every_slot]  # each runs, oldest first
    assert new[cron.series_id] == [("2026-06-01T13:30+00:00", completed)]  # the default: once
    assert {_slot(inbox, made.series_id) for made in every.values()} == {"2026-06-01T13:40+00:00"}

    done = {s: _runs(inbox, s) for s in series}
    clock.advance(hours=-1)  # back to 12:30: every slot up to 13:30 has run (or was missed) already
    minute_by_minute(69)  # 12:31 to 13:39: nothing is due again
    assert {s: _runs(inbox, s) for s in series} == done
    minute_by_minute(1)  # 13:40: the next slot, once
    for made in every.values():
        assert _runs(inbox, made.series_id)[len(done[made.series_id]) :] == [("2026-06-01T13:40+00:00", completed)]
    for s in series:
        slots = Counter(slot for slot, outcome in _runs(inbox, s))
        assert max(slots.values()) == 1, slots  # no slot ran (or was recorded) twice
        assert list(slots) == sorted(slots), slots  # and they moved forward


class _Loop:
    """A real host loop on a clock moved by hand, with real time (its monotonic clock) moved by hand too."""

    def __init__(self, inbox: Inbox, clock: Clock) -> None:
        self.real_s = 0.0
        self.passes = 0
        self._passed = threading.Condition()
        self.stop, self.nudge = threading.Event(), threading.Event()
        self.thread = threading.Thread(
            target=run_loop,
            args=(inbox.engine,),
            kwargs={
                "interval_s": 3600.0,
                "stop": self.stop,
                "clock": clock,
                "on_pass": self._on_pass,
                "nudge": self.nudge,
                "lease": LEASE,
                "monotonic": lambda: self.real_s,
            },
        )

    def _on_pass(self, _report: PassReport) -> None:
        with self._passed:
            self.passes += 1
            self._passed.notify_all()

    def one_pass(self) -> None:
        with self._passed:
            seen = self.passes
            self.nudge.set()
            assert self._passed.wait_for(lambda: self.passes > seen, timeout=10), "the loop made no pass"

    def __enter__(self) -> _Loop:
        self.thread.start()
        with self._passed:
            assert self._passed.wait_for(lambda: self.passes > 0, timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_running_work_keeps_its_lease_through_a_forward_step_and_is_taken_back_only_once_silent(
    inbox: Inbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    message = inbox.send("what is on today?")
    [held] = claim(inbox, owner="runner-1")  # a runner works on it, under a 60 s lease

    def status() -> str:
        return str(inbox.message(message.id).status)

    with caplog.at_level(logging.WARNING, logger="inbox.sweeper"), _Loop(inbox, clock) as loop:
        clock.advance(hours=1)  # the clock steps; no real time passes
        loop.one_pass()
        assert status() == "running"  # its lease is judged as if the step had not happened
        assert "the clock stepped forward by 3600 s" in caplog.text

        with transaction(inbox.engine) as db:  # the runner renews on the new clock, as it does every 20 s
            assert renew(db, held.id, owner="runner-1", now=clock(), lease=LEASE)
        clock.advance(seconds=50)
        loop.real_s += 50
        loop.one_pass()
        assert status() == "running"

        clock.advance(seconds=61)  # then it goes silent for longer than its lease: it is taken back
        loop.real_s += 61
        loop.one_pass()
        assert status() == "pending"
    [interrupted] = inbox.runs(message.id)
    assert interrupted.outcome == "interrupted" and "no heartbeat" in (interrupted.error or "")


def test_a_backward_step_is_told_and_running_work_is_left_alone(
    inbox: Inbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    message = inbox.send("and tomorrow?")
    claim(inbox, owner="runner-1")
    with caplog.at_level(logging.WARNING, logger="inbox.sweeper"), _Loop(inbox, clock) as loop:
        clock.advance(hours=-1)
        loop.one_pass()
    assert "the clock stepped back by 3600 s" in caplog.text
    assert inbox.message(message.id).status == "running"
