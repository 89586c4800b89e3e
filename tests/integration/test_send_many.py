"""Sending many messages at once: all or nothing, each checked, indistinguishable from single sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import String, cast
from sqlmodel import col, select

from inbox import Inbox
from inbox.errors import InvalidInput
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from sweeper.sweep import sweep_once
from tests.conftest import Clock


def test_send_many_writes_every_message_like_a_single_send(inbox: Inbox, clock: Clock) -> None:
    single = inbox.send("one", session="ops")
    many = inbox.send_many(["two", "three", "four"], session="ops")
    assert [m.text for m in many] == ["two", "three", "four"]
    assert len({m.id for m in [single, *many]}) == 4
    assert {(m.kind, m.status, m.created_by, m.session) for m in [single, *many]} == {
        ("chat", "pending", "user", "ops")
    }
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {"ops": 4}  # all due, all waiting for a runner


def test_one_bad_message_rejects_the_whole_batch(inbox: Inbox, clock: Clock) -> None:
    with pytest.raises(InvalidInput) as rejected:
        inbox.send_many(["fine", "   ", "also fine"])
    assert rejected.value.field == "texts[1]"
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {}  # nothing was written


def test_messages_sent_for_later_wait_until_then(inbox: Inbox, clock: Clock) -> None:
    later = inbox.send_many(["a", "b"], in_="10m")
    assert all(m.process_after == clock() + timedelta(minutes=10) for m in later)
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {}
    clock.advance(minutes=11)
    assert sweep_once(inbox.engine, now=clock()).waiting_sessions == {"main": 2}


def test_sent_rows_are_column_for_column_what_the_orm_writes(inbox: Inbox, clock: Clock) -> None:
    """Single sends and batches are written by hand-built statements; reading them back must give what a
    ``MessageIn`` written through the ORM gives, every column (JSON content, instants, flags) included."""
    _write_through_each_path(inbox, clock)
    with transaction(inbox.engine) as db:
        stored = db.exec(select(MessageIn).order_by(col(MessageIn.id))).all()
        dumped = [row.model_dump(exclude={"id", "content"}, warnings=False) for row in stored]
        contents = [row.content for row in stored]
    assert contents == [{"text": "one"}, {"text": "two"}, {"text": "three"}, {"text": "orm"}]
    assert dumped[0] == dumped[1] == dumped[2] == dumped[3]


def test_sent_rows_are_stored_as_the_orm_stores_them(inbox: Inbox, clock: Clock) -> None:
    """What the database itself holds, read back as text column by column: a JSON ``null`` and an SQL ``NULL``,
    or two spellings of an instant, read back alike through the model but differ to a query."""
    _write_through_each_path(inbox, clock)
    table = MessageIn.__table__  # type: ignore[attr-defined]
    columns = [column for column in table.columns if column.name not in {"id", "content"}]
    with transaction(inbox.engine) as db:
        query = select(*(cast(column, String) for column in columns)).order_by(col(MessageIn.id))
        stored = [tuple(row) for row in db.execute(query)]
    assert len(stored) == 4
    assert stored[0] == stored[1] == stored[2] == stored[3]


def _write_through_each_path(inbox: Inbox, clock: Clock) -> None:
    """Four messages of one session, in id order: a single send, a batch of two, and one the ORM writes."""
    inbox.send("one", session="ops")
    inbox.send_many(["two", "three"], session="ops")
    with transaction(inbox.engine) as db:
        now = clock()
        db.add(MessageIn(session="ops", content={"text": "orm"}, process_after=now, created_at=now, updated_at=now))
