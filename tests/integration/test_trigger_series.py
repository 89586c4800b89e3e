"""Series no time starts (``on`` alone) and starting an extra occurrence (``start_extra``), on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox import Conflict, Inbox, InvalidInput
from inbox.store import series
from inbox.store.engine import transaction
from inbox.store.types import FOREVER
from tests.conftest import Clock
from tests.integration.helpers import claim, end, live, rows, run_due


def start(inbox: Inbox, ident: str, **content: object) -> str:
    with transaction(inbox.engine) as db:
        return series.start_extra(db, ident, now=inbox.clock(), content=dict(content)).id


def test_a_task_with_only_on_waits_forever_and_lists_no_next_run(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("sort the mail", on=["mail.*", "mail.*", "github.**"])
    assert made.next_runs == [] and made.schedule == "on mail.*, github.**"
    [row] = live(inbox, made.series_id)
    assert row.process_after == FOREVER and row.recurrence is None and row.occurrence_at is None
    clock.advance(days=3650)
    assert claim(inbox) == []  # no due scan ever reaches it
    [task] = inbox.tasks()
    assert task.next_run is None and task.on == ["mail.*", "github.**"] and task.status == "active"


def test_pause_resume_cancel_and_update_act_on_it(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("sort the mail", on=["mail.*"])
    assert inbox.pause(made.id).status == "paused"
    assert inbox.tasks(status="paused")[0].next_run is None
    assert inbox.resume(made.id).status == "active"
    changed = inbox.update(made.id, on=["mail.received", "chat.*"], tz="Europe/Paris")
    assert changed.on == ["mail.received", "chat.*"] and changed.timezone == "Europe/Paris" and changed.next_run is None
    timed = inbox.update(made.id, every="1h")  # a time starts it too from now on
    assert timed.schedule == "every 1h or on mail.received, chat.*"
    assert timed.next_run == clock.now + timedelta(hours=1)
    assert inbox.cancel(made.id).status == "cancelled"


def test_a_task_keeps_something_that_starts_it(inbox: Inbox) -> None:
    only_events = inbox.schedule("sort the mail", on=["mail.*"])
    with pytest.raises(InvalidInput) as refused:
        inbox.update(only_events.id, on=[])
    assert refused.value.field == "on"
    with pytest.raises(InvalidInput) as refused:
        inbox.update(only_events.id, at="2026-07-01T09:00")
    assert refused.value.field == "at"
    mixed = inbox.schedule("digest", every="1h", on=["mail.*"])
    assert inbox.update(mixed.id, on=[]).schedule == "every 1h"
    one_shot = inbox.schedule("once", in_="1h")
    with pytest.raises(InvalidInput) as refused:
        inbox.update(one_shot.id, on=["mail.*"])
    assert refused.value.field == "on"
    assert [t.on for t in inbox.tasks()] == [[], [], ["mail.*"]]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"on": ["mail.*"], "at": "2026-07-01T09:00"}, "on"),
        ({"on": ["mail.*"], "in_": "1h"}, "on"),
        ({"on": ["mail.*"], "cron": "0 9 * * *", "every": "1h"}, "schedule"),
        ({"on": []}, "on"),
        ({"on": ["mail..x"]}, "on"),
        ({"on": ["**.x"]}, "on"),
        ({"on": ["mail.*"], "max_runs": 3}, "max_runs"),
        ({}, "schedule"),
    ],
)
def test_bad_on_is_refused_naming_the_field_and_writes_nothing(
    inbox: Inbox, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        inbox.schedule("x", **fields)
    assert refused.value.field == field
    assert inbox.tasks(status="all") == []


def test_start_extra_runs_beside_the_schedule_and_never_beside_another_occurrence(inbox: Inbox, clock: Clock) -> None:
    made = inbox.schedule("digest", every="1h", on=["mail.*"])
    first = start(inbox, made.id, event={"name": "mail.in"})
    second = start(inbox, made.id, event={"name": "mail.out"})
    [claimed] = claim(inbox)  # one at a time
    assert claimed.id == first and claimed.is_extra and claimed.content["event"] == {"name": "mail.in"}
    assert claimed.content["text"] == "digest" and claimed.content["on"] == ["mail.*"]
    assert claim(inbox) == []  # the second waits while the first runs
    end(inbox, claimed.id)
    [then] = claim(inbox)
    assert then.id == second
    [chain] = live(inbox, made.series_id)
    assert chain.process_after == made.next_runs[0]  # the schedule did not move


def test_start_extra_refuses_paused_cancelled_and_ended_series(inbox: Inbox, clock: Clock) -> None:
    paused = inbox.schedule("a", on=["x"])
    inbox.pause(paused.id)
    cancelled = inbox.schedule("b", on=["x"])
    inbox.cancel(cancelled.id)
    ended = inbox.schedule("c", in_="1m")
    clock.advance(minutes=2)
    run_due(inbox)
    for made, status in ((paused, "paused"), (cancelled, "cancelled"), (ended, "ended")):
        with pytest.raises(series.SeriesInactive) as refused:
            start(inbox, made.id)
        assert refused.value.status == status
    assert all(not r.is_extra for made in (paused, cancelled, ended) for r in rows(inbox, made.series_id))
    # run-now is a person's explicit ask: a paused or ended task runs; a cancelled one does not
    assert inbox.run_now(paused.id).status == "pending"
    assert inbox.run_now(ended.id).status == "pending"
    with pytest.raises(Conflict):
        inbox.run_now(cancelled.id)


def test_a_pause_reaches_an_extra_waiting_to_run(inbox: Inbox) -> None:
    made = inbox.schedule("a", on=["x"])
    extra = start(inbox, made.id)
    inbox.pause(made.id)
    assert claim(inbox) == []
    inbox.resume(made.id)
    assert [r.id for r in claim(inbox)] == [extra]
