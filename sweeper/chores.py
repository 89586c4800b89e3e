"""Chores one host does for all: of the hosts sharing a store, one runs each chore per interval.

Retention (sweeper/retention.py) need not run on every host every hour: its deletes are idempotent, but N hosts
would each scan the history N times an hour. A chore is taken by a conditional update that moves its
``due_at`` forward (``UPDATE chores … WHERE name = ? AND due_at <= now``): the database lets exactly one host
see its row change, on PostgreSQL by row locking and on SQLite by the write lock every transaction takes.
The first host ever to look inserts the row; a second host inserting at the same moment loses on the primary key
and simply does not run it this time.

A host that dies while running a chore leaves it due again one interval later, when another host (or itself,
restarted) takes it; each chore must therefore be safe to cut off and run again, which retention is.

Taking a chore is a write, so a chore first asks, with a read, whether it has anything to do (``needed``): a host
with nothing old to delete and nothing changed to analyze writes nothing at all, which an idle host on an SD
card must not (docs/benchmarks.md, "Idle").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from inbox.store.engine import transaction
from inbox.store.models import Chore

log = logging.getLogger("inbox.sweeper")
RETENTION = "retention"


def take_chore(engine: Engine, name: str, *, owner: str, now: datetime, every: timedelta) -> bool:
    """Whether ``owner`` takes chore ``name`` now: True for exactly one caller per ``every`` across all hosts."""
    table = Chore.__table__  # type: ignore[attr-defined]
    claim = (
        update(table)
        .where(table.c.name == name, table.c.due_at <= now)
        .values(owner=owner, started_at=now, due_at=now + every)
    )
    with transaction(engine) as db:
        if db.connection().execute(claim).rowcount == 1:
            return True
        if db.get(Chore, name) is not None:
            return False  # another host has it for this interval
    try:
        with transaction(engine) as db:
            db.add(Chore(name=name, owner=owner, started_at=now, due_at=now + every))
    except IntegrityError:
        return False  # another host made the row (and so took the chore) at the same moment
    return True


def run_chore(
    engine: Engine,
    name: str,
    work: Callable[[], object],
    *,
    owner: str,
    now: datetime,
    every: timedelta,
    needed: Callable[[], bool] | None = None,
) -> bool:
    """Run ``work`` if it is ``needed`` and this host takes the chore; a failure is logged, not raised (it is due
    again next interval)."""
    if needed is not None and not needed():
        return False
    if not take_chore(engine, name, owner=owner, now=now, every=every):
        return False
    try:
        work()
    except Exception as exc:  # history kept a little longer is no reason to stop the host's loop
        log.error("%s failed: %s", name, exc)
    return True
