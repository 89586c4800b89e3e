"""Active hours: an occurrence outside its task's (or its session's) window is recorded ``skipped``, runs nothing,
and the series goes on to its next slot; a run-now and a chat message are never held back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.errors import InvalidInput
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from sweeper.sweep import sweep_once
from tests.conftest import Clock
from tests.integration.helpers import claim, end, live, runs

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 14:00 in Paris (summer time)


def _sweep(inbox: Inbox) -> set[str]:
    """One host pass; the sessions it would wake a runner for."""
    return set(sweep_once(inbox.engine, now=inbox.clock()).waiting_sessions)


def test_an_occurrence_outside_its_hours_is_skipped_with_the_reason_and_wakes_no_runner(
    inbox: Inbox, clock: Clock
) -> None:
    clock.set(NOON)
    made = inbox.schedule("heartbeat", every="1h", tz="Europe/Paris", active_hours="22:00-06:00")
    clock.advance(hours=1)

    assert _sweep(inbox) == set()  # nothing left for a runner: no runner, pre-script or model is involved

    [run] = runs(inbox, made.series_id)
    assert run.outcome == "skipped"
    assert run.error == "outside active hours (22:00-06:00 Europe/Paris)"
    [follow_up] = live(inbox, made.series_id)
    assert follow_up.status == "pending" and follow_up.occurrence_at == NOON + timedelta(hours=2)
    assert claim(inbox) == []


def test_inside_its_hours_it_runs_and_the_window_is_read_on_the_tasks_clock(inbox: Inbox, clock: Clock) -> None:
    clock.set(NOON)
    made = inbox.schedule("heartbeat", every="1h", tz="Europe/Paris", active_hours="08:00-22:00")
    clock.advance(hours=1)  # 13:00 UTC is 15:00 in Paris
    assert _sweep(inbox) == {"main"}
    assert [row.series_id for row in claim(inbox)] == [made.series_id]
    assert runs(inbox, made.series_id) == []


def test_a_sessions_hours_hold_its_tasks_that_have_none_and_a_tasks_own_window_wins(inbox: Inbox, clock: Clock) -> None:
    clock.set(NOON)
    inbox.set_session("main", active_hours="22:00-06:00")
    plain = inbox.schedule("plain", every="1h")
    own = inbox.schedule("own window", every="1h", active_hours="09:00-17:00")
    elsewhere = inbox.schedule("other session", every="1h", session="work")
    chat = inbox.send("a person writes at noon")
    clock.advance(hours=1)

    claimed = {row.series_id or row.id for row in claim(inbox)}

    assert claimed == {own.series_id, elsewhere.series_id, chat.id}  # chat is never held back
    [run] = runs(inbox, plain.series_id)
    assert (run.outcome, run.error) == ("skipped", "outside active hours (22:00-06:00 UTC, session main's)")
    assert inbox.sessions()[0].active_hours == "22:00-06:00"


def test_a_run_now_always_runs_and_an_event_started_one_is_held_back(inbox: Inbox, clock: Clock) -> None:
    clock.set(NOON)
    made = inbox.schedule("on mail", on=["mail.*"], active_hours="22:00-06:00")
    inbox.run_now(made.series_id)
    inbox.emit("mail.in")

    [asked] = claim(inbox)  # one occurrence of a series at a time: the run-now first
    assert asked.content.get("run_now") is True
    end(inbox, asked.id)

    assert claim(inbox) == []
    assert [(r.outcome, r.error) for r in runs(inbox, made.series_id)] == [
        ("completed", None),
        ("skipped", "outside active hours (22:00-06:00 UTC)"),
    ]


def test_a_window_is_changed_and_removed_at_once(inbox: Inbox, clock: Clock) -> None:
    clock.set(NOON)
    made = inbox.schedule("heartbeat", every="1h", active_hours="22:00-06:00")
    assert inbox.update(made.series_id, active_hours="10:00-14:00").active_hours == "10:00-14:00"
    assert inbox.update(made.series_id, active_hours="").active_hours is None
    inbox.set_session("main", active_hours="22:00-06:00")
    assert inbox.update(made.series_id, active_hours="12:00-18:00").active_hours == "12:00-18:00"
    clock.advance(hours=1)
    assert [row.series_id for row in claim(inbox)] == [made.series_id]


@pytest.mark.parametrize("bad", ["25:00-06:00", "08:00-08:00", "eight to ten"])
def test_a_bad_window_is_refused_naming_the_field_and_nothing_is_written(inbox: Inbox, clock: Clock, bad: str) -> None:
    made = inbox.schedule("heartbeat", every="1h")
    for attempt in (
        lambda: inbox.schedule("x", every="1h", active_hours=bad),
        lambda: inbox.update(made.series_id, active_hours=bad),
        lambda: inbox.set_session("main", active_hours=bad),
    ):
        with pytest.raises(InvalidInput) as refused:
            attempt()
        assert refused.value.field == "active_hours"
    with transaction(inbox.engine) as db:
        assert [row.active_hours for row in db.exec(select(MessageIn)).all()] == [None]
    assert inbox.sessions() == []


def test_a_recurring_reminder_outside_its_hours_is_not_delivered(inbox: Inbox, clock: Clock) -> None:
    clock.set(NOON)
    made = inbox.schedule("drink water", every="1h", remind=True, active_hours="22:00-06:00")
    inside = inbox.schedule("stretch", every="1h", remind=True, active_hours="08:00-20:00")
    clock.advance(hours=1)
    _sweep(inbox)
    assert [o.text for o in inbox.outbox()] == ["stretch"]
    assert [r.outcome for r in runs(inbox, made.series_id)] == ["skipped"]
    assert [r.outcome for r in runs(inbox, inside.series_id)] == ["completed"]
