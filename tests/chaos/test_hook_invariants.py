"""The webhook checks themselves: a clean history of hook calls passes, and each kind of damage to it is reported.

The calls go through the function the HTTP route commits with (``inbox.hooks.deliver``), as the emitter's calls
reach it, and are logged the way the emitter logs them; then one thing is broken by hand, as a bug would break it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from inbox import Inbox, hooks
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event
from tests.chaos.hooks import BY_NAME, HOOK, check_hooks, create_hooks
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.conftest import Clock

CALLS = [  # (n, hook, key): as the emitter makes them
    (0, "note", "key-0"),
    (1, "note", "key-0"),  # a keyed retry: answers the first, drops nothing
    (2, "note", None),
    (2, "note", None),  # an unkeyed retry after a call that was committed: a new event, and a new message
    (3, "push", None),
    (4, "ci", "key-4"),
]


def _call(inbox: Inbox, n: int, name: str, key: str | None) -> dict[str, Any]:
    hook = hooks.find(inbox.engine, name)
    assert hook is not None
    body = json.dumps({"n": n, "key": key})
    done = hooks.deliver(inbox.engine, hook, json.loads(body), body, key=key, clock=inbox.clock)
    return {"n": n, "hook": name, "tries": 1, **done.model_dump(include={"id", "duplicate", "matched", "message_id"})}


def _violations(inbox: Inbox, clock: Clock, answers: list[dict[str, Any]]) -> list[Violation]:
    return check_hooks(Snapshot.load(inbox.engine, settled_at=clock.now), answers)


def _note(db: Session, n: int) -> MessageIn:
    rows = db.exec(select(MessageIn).where(MessageIn.created_by == BY_NAME["note"].author)).all()
    return next(row for row in rows if json.loads(row.content["text"])["n"] == n)


def _message_lost(db: Session, answers: list[dict[str, Any]]) -> None:
    db.delete(_note(db, 0))


def _message_doubled(db: Session, answers: list[dict[str, Any]]) -> None:
    row = _note(db, 0)
    db.add(MessageIn(**{**row.model_dump(warnings=False), "id": "01DOUBLED0000000000000000X"}))


def _repeat_dropped_a_message(db: Session, answers: list[dict[str, Any]]) -> None:
    answers[1]["message_id"] = answers[0]["message_id"]


def _event_of_another_hook(db: Session, answers: list[dict[str, Any]]) -> None:
    event = db.get(Event, answers[4]["id"])
    assert event is not None
    event.created_by = "hook:ci"


@pytest.mark.parametrize(
    ("damage", "kind", "words"),
    [
        (_message_lost, LOSS, "call 0 of note: no message"),
        (_message_lost, LOSS, "call 0: 0 messages for 1 events"),
        (_message_doubled, DUPLICATE, "call 0: 2 messages for 1 events"),
        (_repeat_dropped_a_message, DUPLICATE, "call 1 of note answered message"),
        (_event_of_another_hook, HOOK, "call of push answered, but the event is"),
    ],
)
def test_each_kind_of_damage_to_a_hook_call_is_reported(
    inbox: Inbox,
    clock: Clock,
    tmp_path: Path,
    damage: Callable[[Session, list[dict[str, Any]]], None],
    kind: str,
    words: str,
) -> None:
    create_hooks(inbox, tmp_path / "hooks.json")
    assert set(json.loads((tmp_path / "hooks.json").read_text())) == set(BY_NAME)
    answers = [_call(inbox, n, name, key) for n, name, key in CALLS]
    assert [answer["duplicate"] for answer in answers] == [False, True, False, False, False, False]
    assert answers[1]["id"] == answers[0]["id"] and answers[2]["id"] != answers[3]["id"]
    assert _violations(inbox, clock, answers) == []
    with transaction(inbox.engine) as db:
        damage(db, answers)
    found = _violations(inbox, clock, answers)
    assert any(v.kind == kind and words in v.detail for v in found), found
