"""Emitting events on every backend: what starts, what queues, what coalesces, keys, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from inbox import Inbox, InvalidInput
from inbox.enums import MatchState
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event, EventMatch
from tests.conftest import Clock
from tests.integration.helpers import claim, end, run_due, stored_text


def extras(inbox: Inbox, series_id: str) -> list[MessageIn]:
    with transaction(inbox.engine) as db:
        query = select(MessageIn).where(MessageIn.series_id == series_id, MessageIn.is_extra)
        return list(db.exec(query).all())


def test_an_event_starts_one_run_of_each_active_task_whose_pattern_matches(inbox: Inbox, clock: Clock) -> None:
    mail = inbox.schedule("sort the mail", on=["mail.*"])
    everything = inbox.schedule("log it", on=["**"], every="1h")
    inbox.schedule("push", on=["github.**"])
    paused = inbox.schedule("paused", on=["mail.received"])
    inbox.pause(paused.id)
    cancelled = inbox.schedule("cancelled", on=["mail.received"])
    inbox.cancel(cancelled.id)

    done = inbox.emit("mail.received", {"from": "ann@example.com"})

    assert sorted(done.matched) == sorted([mail.series_id, everything.series_id])
    assert done.queued == [] and done.coalesced == [] and not done.duplicate
    [row] = extras(inbox, mail.series_id)
    assert row.status == "pending" and row.process_after == clock.now and row.text == "sort the mail"
    assert row.content["event"] == {
        "id": done.id,
        "name": "mail.received",
        "data": {"from": "ann@example.com"},
        "session": None,
        "depth": 0,
    }
    assert extras(inbox, paused.series_id) == [] and extras(inbox, cancelled.series_id) == []
    assert inbox.tasks()[0].next_run is not None  # the timed task's schedule did not move


def test_an_event_for_a_session_starts_only_that_sessions_tasks(inbox: Inbox) -> None:
    mine = inbox.schedule("mine", on=["build.done"], session="work")
    other = inbox.schedule("other", on=["build.done"], session="home")
    assert inbox.emit("build.done", session="work").matched == [mine.series_id]
    assert sorted(inbox.emit("build.done").matched) == sorted([mine.series_id, other.series_id])


def test_an_event_while_a_run_goes_on_is_queued_and_later_ones_coalesced(inbox: Inbox) -> None:
    task = inbox.schedule("sort", on=["mail.*"])
    first = inbox.emit("mail.a")
    [running] = claim(inbox)
    second = inbox.emit("mail.b")
    third = inbox.emit("mail.c")
    assert (first.matched, second.queued, third.coalesced) == ([task.series_id],) * 3
    assert third.matched == []
    assert [e.state for e in inbox.events(task.id)] == ["coalesced", "queued", "started"]
    assert claim(inbox) == []  # the queued one waits for the running one
    end(inbox, running.id)
    [then] = claim(inbox)
    assert then.content["event"]["name"] == "mail.b"
    assert inbox.emit("mail.d").queued == [task.series_id]  # room again behind the one running


def test_two_events_before_any_run_starts_both_run_and_a_third_coalesces(inbox: Inbox) -> None:
    task = inbox.schedule("sort", on=["mail.*"])
    states = [inbox.emit(f"mail.n{i}") for i in range(3)]
    assert [bool(s.matched) for s in states] == [True, True, False]
    run_due(inbox)
    run_due(inbox)
    assert [r.content["event"]["name"] for r in extras(inbox, task.series_id) if r.status == "completed"] == [
        "mail.n0",
        "mail.n1",
    ]


def test_a_key_used_again_within_a_day_starts_nothing_and_answers_the_first_event(inbox: Inbox, clock: Clock) -> None:
    task = inbox.schedule("sort", on=["mail.*"])
    first = inbox.emit("mail.in", {"n": 1}, key="msg-42")
    run_due(inbox)
    clock.advance(hours=23)
    again = inbox.emit("mail.in", {"n": 2}, key="msg-42")
    assert (again.id, again.duplicate, again.matched) == (first.id, True, [task.series_id])
    assert len(extras(inbox, task.series_id)) == 1
    assert not inbox.emit("mail.in", key="msg-42", session="work").duplicate  # keys are per session
    clock.advance(hours=1, seconds=1)
    later = inbox.emit("mail.in", key="msg-42")
    assert not later.duplicate and later.id != first.id and later.matched == [task.series_id]
    with transaction(inbox.engine) as db:
        assert db.get(Event, first.id).key is None  # type: ignore[union-attr]


def test_an_event_and_a_series_meet_once(inbox: Inbox) -> None:
    task = inbox.schedule("sort", on=["mail.*", "mail.in", "**"])  # three patterns match: one run
    done = inbox.emit("mail.in")
    assert done.matched == [task.series_id] and len(extras(inbox, task.series_id)) == 1
    with pytest.raises(IntegrityError), transaction(inbox.engine) as db:
        db.add(EventMatch(event_id=done.id, series_id=task.series_id, state=MatchState.STARTED))


def test_an_update_of_the_patterns_applies_to_the_next_event(inbox: Inbox) -> None:
    task = inbox.schedule("sort", on=["mail.*"])
    inbox.update(task.id, on=["chat.*"])
    assert inbox.emit("mail.in").matched == []
    assert inbox.emit("chat.in").matched == [task.series_id]


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("mail..in", {}, "name"),
        ("mail.*", {}, "name"),
        ("", {}, "name"),
        ("mail.in", {"data": float("inf")}, "data"),
        ("mail.in", {"data": "x" * (1 << 20)}, "data"),
        ("mail.in", {"session": "no spaces"}, "session"),
        ("mail.in", {"key": ""}, "key"),
        ("mail.in", {"key": "a\tb"}, "key"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    inbox: Inbox, name: str, kwargs: dict[str, Any], field: str
) -> None:
    inbox.schedule("sort", on=["**"])
    before = stored_text(inbox.engine)
    with pytest.raises(InvalidInput) as refused:
        inbox.emit(name, **kwargs)
    assert refused.value.field == field
    assert stored_text(inbox.engine) == before


def test_a_batch_of_events_starts_what_each_matches_in_order(inbox: Inbox) -> None:
    a = inbox.schedule("a", on=["a.*"]).series_id
    b = inbox.schedule("b", on=["b.*"]).series_id
    done = inbox.emit_many(
        [{"name": "a.1"}, {"name": "b.1", "data": [1]}, {"name": "a.2"}, {"name": "a.3"}, {"name": "c", "key": "k"}]
    )
    assert [d.matched for d in done] == [[a], [b], [a], [], []]
    assert done[2].queued == [a] and done[3].coalesced == [a]
    assert [r.content["event"]["name"] for r in extras(inbox, a)] == ["a.1", "a.2"]
    again = inbox.emit_many([{"name": "c", "key": "k"}, {"name": "b.2"}])
    assert (again[0].id, again[0].duplicate) == (done[4].id, True) and again[1].queued == [b]


@pytest.mark.parametrize(
    ("events", "field"),
    [
        ([{"name": "ok"}, {"name": "bad..x"}], "events[1].name"),
        ([{"name": "ok", "colour": "red"}], "events[0].colour"),
        ([{"data": 1}], "events[0].name"),
        ([{"name": "ok", "session": "a b"}], "events[0].session"),
        ([{"name": "ok"}, {"name": "ok", "data": float("nan")}], "events[1].data"),
    ],
)
def test_a_batch_with_one_bad_event_writes_nothing(inbox: Inbox, events: list[dict[str, Any]], field: str) -> None:
    inbox.schedule("sort", on=["**"])
    before = stored_text(inbox.engine)
    with pytest.raises(InvalidInput) as refused:
        inbox.emit_many(events)
    assert refused.value.field == field
    assert stored_text(inbox.engine) == before
