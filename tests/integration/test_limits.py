"""Limits per tag: at most N running at once and at most N starts per window, across claimers and hosts, on
every backend; the rest wait, and ``inbox show`` says on which limit."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import col, select

from inbox import Inbox
from inbox.enums import Outcome
from inbox.errors import InvalidInput, NotFound
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import Run
from inbox.store.types import utcnow
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, runs


def _texts(rows: list[object]) -> list[str]:
    return sorted(str(getattr(row, "text")) for row in rows)  # noqa: B009


def test_at_most_n_run_at_once_the_rest_wait_and_say_so(inbox: Inbox, clock: Clock) -> None:
    inbox.set_limit("net", max_running=2)
    made = [inbox.schedule(f"ping {i}", in_="1m", tags=["net"]) for i in range(4)]
    inbox.schedule("plain", in_="1m")
    clock.advance(minutes=2)
    first = claim(inbox, limit=10)
    assert _texts(first) == ["ping 0", "ping 1", "plain"]
    assert claim(inbox, limit=10) == []
    waiting = inbox.get(made[2].series_id)
    assert waiting.waiting_on == "waiting on the limit of tag net: 2 of 2 running"
    assert [item.running for item in inbox.limits()] == [2]
    end(inbox, first[0].id)
    assert _texts(claim(inbox, limit=10)) == ["ping 2"]
    assert inbox.get(made[3].series_id).waiting_on is not None
    inbox.remove_limit("net")
    assert _texts(claim(inbox, limit=10)) == ["ping 3"]
    assert inbox.limits() == []


def test_a_rate_lets_n_start_per_window(inbox: Inbox, clock: Clock) -> None:
    for i in range(5):
        inbox.schedule(f"mail {i}", in_="1m", tags=["mail", "out"])
    inbox.set_limit("mail", rate="2/10m")
    clock.advance(minutes=2)
    started = claim(inbox, limit=10)
    assert len(started) == 2
    for row in started:
        end(inbox, row.id)
    clock.advance(minutes=9)
    assert claim(inbox, limit=10) == []
    clock.advance(minutes=1, seconds=1)
    assert len(claim(inbox, limit=10)) == 2
    assert [(item.tag, item.rate, item.max_running) for item in inbox.limits()] == [("mail", "2/10m", None)]


def test_reminders_the_host_delivers_keep_to_their_tags_rate(inbox: Inbox, clock: Clock) -> None:
    inbox.set_limit("nag", rate="1/1h")
    for i in range(3):
        inbox.schedule(f"nag {i}", in_="1m", remind=True, tags=["nag"])
    inbox.schedule("free", in_="1m", remind=True)
    clock.advance(minutes=2)
    assert sweep_once(inbox.engine, now=clock()).delivered == 2
    clock.advance(minutes=30)
    assert sweep_once(inbox.engine, now=clock()).delivered == 0
    clock.advance(minutes=31)
    assert sweep_once(inbox.engine, now=clock()).delivered == 1


def test_one_claim_of_one_shots_and_recurring_tasks_keeps_claim_order_and_counts_every_start(
    inbox: Inbox, clock: Clock
) -> None:
    """A claim marks a one-shot running as it takes it, and weighs a recurring occurrence first (catch-up, active
    hours): both kinds in one claim come back in claim order, and each start counts against the rate."""
    clock.set(clock().replace(hour=12, minute=0, second=0, microsecond=0))
    inbox.set_limit("mail", rate="3/1h")
    night = inbox.schedule("night", every="1h", tags=["mail"], tz="UTC", active_hours="22:00-06:00")
    inbox.schedule("hourly", every="1h", tags=["mail"])  # both first due at 13:00, the oldest here
    for name, minutes in (("a", 90), ("b", 100), ("c", 110)):
        inbox.schedule(name, in_=f"{minutes}m", tags=["mail"])
    clock.advance(hours=2, minutes=5)

    first = claim(inbox, limit=10)  # night, hourly and a fit the rate; night is outside its hours: skipped

    assert [row.text for row in first] == ["hourly", "a"]
    assert [run.outcome for run in runs(inbox, night.series_id)] == ["skipped"]
    assert [row.text for row in claim(inbox, limit=10)] == ["b"]  # the room night gave back
    assert claim(inbox, limit=10) == []  # hourly, a and b started this hour
    clock.advance(hours=1)
    assert [row.text for row in claim(inbox, limit=10)] == ["c"]


def test_a_limit_set_later_holds_rows_already_waiting_and_a_retag_moves_them(inbox: Inbox, clock: Clock) -> None:
    rows = [inbox.schedule(f"job {i}", every="1h", tags=["batch"]) for i in range(3)]
    inbox.set_limit("batch", max_running=1)
    clock.advance(hours=1, minutes=1)
    assert len(claim(inbox, limit=10)) == 1
    inbox.update(rows[1].series_id, tags=["other"])
    assert _texts(claim(inbox, limit=10)) == ["job 1"]


def test_bad_limits_are_refused_naming_the_field(inbox: Inbox) -> None:
    for kwargs, field in (
        ({"max_running": 0}, "max_running"),
        ({"rate": "ten per minute"}, "rate"),
        ({"rate": "0/1m"}, "rate"),
        ({"rate": "5/soon"}, "rate"),
        ({}, "max_running"),
    ):
        with pytest.raises(InvalidInput) as refused:
            inbox.set_limit("net", **kwargs)  # type: ignore[arg-type]
        assert refused.value.field == field
    with pytest.raises(InvalidInput):
        inbox.set_limit("Not A Tag", max_running=1)
    with pytest.raises(NotFound):
        inbox.remove_limit("net")
    assert inbox.limits() == []


def _work(url: str, host: str, stop: threading.Event, errors: list[BaseException]) -> None:
    """Two runners of one host: claim one row at a time, hold it a few milliseconds, end it."""

    def runner(name: str) -> None:
        try:
            with Inbox(url, env={"INBOX_TZ": "UTC"}) as own:
                while not stop.is_set():
                    with transaction(own.engine) as db:
                        rows = claim_due(db, owner=f"{host}/{name}", now=utcnow(), clock=utcnow, limit=1)
                    if not rows:
                        time.sleep(0.002)
                        continue
                    time.sleep(random.uniform(0.001, 0.02))
                    with transaction(own.engine) as db:
                        report = RunReport(outcome=Outcome.COMPLETED, started_at=rows[0].updated_at)
                        end_occurrence(db, rows[0].id, report, now=utcnow())
        except BaseException as exc:  # the test's thread reports it
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(f"r{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _most_at_once(runs: list[Run]) -> int:
    edges = sorted([(r.started_at, 1) for r in runs] + [(r.ended_at, -1) for r in runs], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_two_hosts_never_run_more_than_the_limit_at_once(store_url: str) -> None:
    """Two hosts (engines) of two runners each. Counted from the runs' recorded start and end times: a claim stamps
    its start once it holds the limit, after the ending that made room has committed."""
    with Inbox(store_url, env={"INBOX_TZ": "UTC"}, clock=lambda: utcnow() - timedelta(hours=1)) as earlier:
        earlier.set_limit("net", max_running=2)
        limited = {earlier.schedule(f"ping {i}", in_="1m", tags=["net"]).series_id for i in range(40)}
        earlier.send_many([f"chat {i}" for i in range(20)])
    errors: list[BaseException] = []
    stop = threading.Event()
    hosts = [threading.Thread(target=_work, args=(store_url, f"host{h}", stop, errors)) for h in range(2)]
    for host in hosts:
        host.start()
    with Inbox(store_url) as inbox:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not errors:
            with transaction(inbox.engine) as db:
                if len(db.exec(select(Run.id)).all()) == 60:
                    break
            time.sleep(0.2)
        stop.set()
        for host in hosts:
            host.join()
        assert errors == []
        with transaction(inbox.engine) as db:
            runs = list(db.exec(select(Run).where(col(Run.series_id).in_(limited))).all())
            others = db.exec(select(Run).where(col(Run.series_id).is_(None))).all()
    assert len(runs) == 40 and len(others) == 20, "everything ran"
    assert _most_at_once(runs) == 2
