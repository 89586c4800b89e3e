"""The event checks themselves: a clean history of events passes, and each kind of damage to it is reported.

Two listening tasks take events through the store's own emit, claim and ending functions (what the emitter and a
runner's report do), then one thing is broken by hand, as a bug would break it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from inbox import Inbox
from inbox.enums import MatchState, Outcome, Status
from inbox.store import events as store_events
from inbox.store.claims import claim_due
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from inbox.store.trigger_tables import Event, EventMatch
from tests.chaos.events import Emission, check_events
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.chaos.plan import Gate, Shape, TaskPlan, answer_for, schedule
from tests.conftest import Clock

OWNER = "host-1/p1"
EMISSIONS = [
    Emission(0, 0, "mail.received", None, "key-0"),
    Emission(1, 0, "mail.received", None, None),  # queued behind the first
    Emission(2, 0, "mail.received", None, None),  # coalesced
    Emission(3, 0, "mail.received", None, "key-0"),  # a retry: answers the first
    Emission(4, 0, "github.push", "main", None),
]


def _listener(tag: str, on: tuple[str, ...]) -> TaskPlan:
    return TaskPlan(
        tag=tag,
        shape=Shape.ON,
        session="main",
        create_at_s=0,
        gate=Gate.NONE,
        script=None,
        remind=False,
        retries=0,
        catch_up="once",
        context=None,
        on=on,
    )


def _listeners(inbox: Inbox, clock: Clock) -> dict[str, TaskPlan]:
    plans = [_listener("e000", ("mail.*", "mail.received")), _listener("e001", ("*.push", "github.**"))]
    return {schedule(inbox, plan, window_end=clock.now + timedelta(minutes=1)).series_id: plan for plan in plans}


def _emit(inbox: Inbox, emissions: list[Emission]) -> list[dict[str, Any]]:
    answers = []
    for e in emissions:
        answer = inbox.emit(e.name, e.data(), session=e.session, key=e.key)
        answers.append({"n": e.n, "id": answer.id, "duplicate": answer.duplicate})
    return answers


def _run_all(inbox: Inbox, clock: Clock, listeners: dict[str, TaskPlan]) -> None:
    """Every due occurrence claimed and answered, one at a time, as a runner would."""
    while True:
        clock.advance(seconds=1)
        with transaction(inbox.engine) as db:
            claimed = claim_due(db, owner=OWNER, now=clock.now, session="main", limit=1)
            if not claimed:
                return
            row = claimed[0]
            text = answer_for(listeners[row.series_id or ""].tag)
            report = RunReport(Outcome.COMPLETED, started_at=clock.now, model_output=text, runner=OWNER)
            end_occurrence(db, row.id, report, now=clock.now + timedelta(seconds=0.5))


def _violations(
    inbox: Inbox, clock: Clock, listeners: dict[str, TaskPlan], answers: list[dict[str, Any]]
) -> list[Violation]:
    return check_events(Snapshot.load(inbox.engine, settled_at=clock.now), listeners, answers, EMISSIONS)


def _started(db: Session) -> MessageIn:
    match = db.exec(select(EventMatch).where(EventMatch.state == MatchState.STARTED.value)).first()
    assert match is not None and match.message_id is not None
    row = db.get(MessageIn, match.message_id)
    assert row is not None
    return row


def _occurrence_lost(db: Session) -> None:
    db.delete(_started(db))


def _left_pending(db: Session) -> None:
    _started(db).status = Status.PENDING


def _started_twice(db: Session) -> None:
    row = _started(db)
    db.add(MessageIn(**{**row.model_dump(warnings=False), "id": "01DOUBLED0000000000000000X"}))


def _match_dropped(db: Session) -> None:
    db.delete(db.exec(select(EventMatch).where(EventMatch.state == MatchState.STARTED.value)).first())


def _key_used_twice(db: Session) -> None:
    first = db.exec(select(Event).where(col(Event.key).is_not(None))).one()
    db.add(Event(id="01KEYAGAIN00000000000000XX", name=first.name, data=first.data, created_at=first.created_at))


def _matched_a_stranger(db: Session) -> None:
    mail = db.exec(select(Event).where(Event.name == "mail.received")).first()
    push = db.exec(select(EventMatch).where(EventMatch.state == MatchState.STARTED.value)).all()[-1]
    assert mail is not None
    db.add(EventMatch(event_id=mail.id, series_id=push.series_id, state=MatchState.COALESCED))


def _ran_to_an_end_twice(db: Session) -> None:
    run = db.exec(select(Run).where(Run.message_id == _started(db).id)).one()
    db.add(Run(**{**run.model_dump(exclude={"id"}, warnings=False), "attempt": 2}))


@pytest.mark.parametrize(
    ("damage", "kind", "words"),
    [
        (_occurrence_lost, LOSS, "but no occurrence"),
        (_left_pending, LOSS, "left pending after the drain"),
        (_started_twice, DUPLICATE, "2 occurrences of series"),
        (_match_dropped, LOSS, "did nothing to series"),
        (_match_dropped, "event", "but no match names it"),
        (_key_used_twice, DUPLICATE, "one key, 2 events"),
        (_matched_a_stranger, "event", "not listening"),
        (_ran_to_an_end_twice, DUPLICATE, "started by event"),
    ],
)
def test_each_kind_of_damage_to_an_event_is_reported(
    inbox: Inbox, clock: Clock, damage: Callable[[Session], None], kind: str, words: str
) -> None:
    listeners = _listeners(inbox, clock)
    answers = _emit(inbox, EMISSIONS)
    states = sorted(answer["duplicate"] for answer in answers)
    assert states == [False] * 4 + [True]
    _run_all(inbox, clock, listeners)
    assert _violations(inbox, clock, listeners, answers) == []
    with transaction(inbox.engine) as db:
        damage(db)
    found = _violations(inbox, clock, listeners, answers)
    assert any(v.kind == kind and words in v.detail for v in found), found


def test_an_emission_answered_but_not_recorded_is_reported(inbox: Inbox, clock: Clock) -> None:
    listeners = _listeners(inbox, clock)
    answers = _emit(inbox, EMISSIONS[:4])  # the last is never emitted
    _run_all(inbox, clock, listeners)
    found = _violations(
        inbox, clock, listeners, [*answers, {"n": 4, "id": "01NEVERWRITTEN000000000000", "duplicate": False}]
    )
    assert any(v.kind == LOSS and "answered, but no such event" in v.detail for v in found), found
    found = _violations(inbox, clock, listeners, answers)
    assert any(v.kind == LOSS and "emissions never done: [4]" in v.detail for v in found), found


def test_more_waiting_than_an_emit_allows_is_reported(
    inbox: Inbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emit that let three wait behind the running one (the bug of a wrong limit) is seen afterwards."""
    listeners = _listeners(inbox, clock)
    monkeypatch.setattr(store_events, "WAITING_PER_SERIES", 3)
    answers = _emit(inbox, EMISSIONS)
    _run_all(inbox, clock, listeners)
    found = _violations(inbox, clock, listeners, answers)
    assert any(v.kind == "event" and "3 event-started occurrences waiting at once" in v.detail for v in found), found
