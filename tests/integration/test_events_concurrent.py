"""Two hosts on one store emitting at once, while runners claim and end: each event meets each series once.

Each "host" is an Inbox with its own engine (its own connection pool), in its own thread, as two processes on one
PostgreSQL store would be; on SQLite the same runs through the database's write lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from inbox import Inbox
from inbox.enums import MatchState, Status
from inbox.store.engine import transaction
from inbox.store.lookup import live_row
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event, EventMatch
from inbox.trigger_views import EventEmitted
from tests.conftest import Clock
from tests.integration.helpers import claim, end

EVENTS_PER_HOST = 25
SERIES = 4


def in_threads(*jobs: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # a failure in a thread fails the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors


def test_concurrent_emits_from_two_hosts_start_each_series_once_per_event(
    store_url: str, home: Path, clock: Clock, inbox: Inbox
) -> None:
    series = [inbox.schedule(f"task {i}", on=["order.*"]).series_id for i in range(SERIES)]
    env = {"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}
    hosts = [Inbox(store_url, env=env, clock=clock) for _ in range(2)]
    answers: list[EventEmitted] = []
    stop = threading.Event()

    def emitter(host: Inbox, label: str) -> Callable[[], None]:
        def job() -> None:
            for i in range(EVENTS_PER_HOST):
                answers.append(host.emit(f"order.{label}{i}", {"n": i}))

        return job

    def runner() -> None:  # claims and ends what is due meanwhile, so events meet running series too
        while not stop.is_set():
            for row in claim(hosts[0], owner="runner", limit=10):
                end(hosts[0], row.id)

    def emitters() -> None:
        in_threads(emitter(hosts[0], "a"), emitter(hosts[1], "b"))
        stop.set()

    try:
        in_threads(emitters, runner)
    finally:
        for host in hosts:
            host.close()

    assert len(answers) == 2 * EVENTS_PER_HOST
    with transaction(inbox.engine) as db:
        matches = list(db.exec(select(EventMatch)).all())
        rows = list(db.exec(select(MessageIn).where(MessageIn.is_extra)).all())
    # every (event, series) pair met exactly once: started, queued or coalesced
    assert Counter((m.event_id, m.series_id) for m in matches) == Counter(
        {(a.id, s): 1 for a in answers for s in series}
    )
    started = {(m.event_id, m.series_id): m.message_id for m in matches if m.state != MatchState.COALESCED}
    by_event = Counter((r.content["event"]["id"], r.series_id) for r in rows)
    assert by_event == Counter(dict.fromkeys(started, 1))  # one occurrence per started match, none for the others
    assert {r.id for r in rows} == set(started.values())
    for answer in answers:  # each answer says what its event did
        assert sorted(answer.matched + answer.coalesced) == sorted(series)
    pending = Counter(r.series_id for r in rows if r.status == Status.PENDING)
    assert all(count <= 2 for count in pending.values())  # at most one waiting behind the one about to run


def test_the_same_key_from_two_hosts_at_once_makes_one_event(
    store_url: str, home: Path, clock: Clock, inbox: Inbox
) -> None:
    task = inbox.schedule("sort", on=["mail.*"])
    env = {"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}
    hosts = [Inbox(store_url, env=env, clock=clock) for _ in range(4)]
    answers: list[EventEmitted] = []
    barrier = threading.Barrier(len(hosts))

    def emit(host: Inbox) -> Callable[[], None]:
        def job() -> None:
            barrier.wait()
            answers.append(host.emit("mail.in", key="delivery-7"))

        return job

    try:
        in_threads(*(emit(host) for host in hosts))
    finally:
        for host in hosts:
            host.close()
    with transaction(inbox.engine) as db:
        [event] = db.exec(select(Event)).all()
        started = db.exec(select(MessageIn).where(MessageIn.series_id == task.series_id, MessageIn.is_extra)).all()
    assert {a.id for a in answers} == {event.id}
    assert sorted(a.duplicate for a in answers) == [False, True, True, True]
    assert len(started) == 1


def test_an_emit_that_waits_for_another_writer_stamps_what_it_starts_after_the_wait(
    store_url: str, home: Path, clock: Clock, inbox: Inbox
) -> None:
    """The time an event's occurrence was written is read once the emit holds its locks: stamped before a wait,
    it would seem to wait beside runs that started while the emit waited (three waiting at once, to a reader of
    the history, where the emit saw one)."""
    series_id = inbox.schedule("on order", on=["order.*"]).series_id
    host = Inbox(store_url, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}, clock=clock)
    answers: list[EventEmitted] = []
    waiting = threading.Event()
    before = clock()
    try:

        def holder() -> None:  # another writer: it holds the series' live row (SQLite: the whole store)
            with transaction(inbox.engine) as db:
                assert live_row(db, series_id, lock=True) is not None
                waiting.set()
                time.sleep(0.5)  # the emit has read the clock by now, if it reads it before its wait
                clock.advance(minutes=1)

        def emitter() -> None:
            waiting.wait(10)
            answers.append(host.emit("order.placed"))

        in_threads(holder, emitter)
    finally:
        host.close()
    assert answers[0].matched == [series_id]
    with transaction(inbox.engine) as db:
        started = db.exec(select(MessageIn).where(MessageIn.is_extra)).one()
        match = db.exec(select(EventMatch)).one()
    assert started.created_at == match.created_at == before + timedelta(minutes=1)
