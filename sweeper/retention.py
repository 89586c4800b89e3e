"""Retention: old history is deleted so the database does not grow forever.

What goes, once older than its horizon:
- run history (``runs``) whose ``ended_at`` is older than ``keep_runs`` (default 90 days);
- outbound messages (``messages_out``) whose ``created_at`` is older than ``keep_outbox`` (default 30 days), unless
  still waiting to be delivered through a channel;
- ended inbound rows (``messages_in`` not pending, running or paused) whose ``updated_at`` is older than
  ``keep_runs``: past occurrences, run-now and missed-slot records, answered chat lines and webhooks;
- events and what each did to each task (``events``, ``event_matches``) older than ``keep_runs``;
- rounds of tasks that run after others (``dependency_rounds``) made longer than ``keep_runs`` ago, but the newest
  of each task, which its next round is numbered on from;
- records of the audit trail (``audit``) older than ``keep_audit`` (default 365 days): the only way one ever goes;
- what the drop folder ingested (``drop_ingested``) longer than ``keep_runs`` ago: a key only guards a file that a
  host stopped between writing its message and moving it out of the folder, and such a file is moved at the
  host's next start.

What stays: every live row, whatever its age, and two rows of every series. Its newest chain row (not
``is_extra``): ``inbox tasks --status ended``, ``inbox show`` and a task's name find a series through it, and
it holds the series' last definition, so without it a series that ended long ago would vanish instead of
showing as ended (the newest *chain* row, because run-now and missed-slot records are never read as a
series' head). And its first row, whose id is the series id people and scripts refer to the task by.

A host first asks, with reads, whether anything is past its horizon (:func:`retention_due`), and deletes only
then: a store with nothing old is never written to.

Each batch is deleted in its own transaction, so a large backlog never holds the SQLite write lock for long.
Several hosts may run this at once: a delete is idempotent, and on PostgreSQL each batch skips rows another
host has already locked, so the hosts share the work instead of waiting on (or deadlocking with) each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Delete, Engine, Select, Table, and_, delete, exists, or_, select, tuple_

from inbox.config import DEFAULT_KEEP_AUDIT_DAYS, DEFAULT_KEEP_OUTBOX_DAYS, DEFAULT_KEEP_RUNS_DAYS
from inbox.enums import LIVE_STATUSES, DeliveryStatus
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import AuditRecord, MessageIn, MessageOut, Run
from inbox.store.trigger_tables import DependencyRound, DropIngested, Event, EventMatch

_LIVE = sorted(s.value for s in LIVE_STATUSES)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_runs: timedelta = timedelta(days=DEFAULT_KEEP_RUNS_DAYS)  # run history and ended inbound rows
    keep_outbox: timedelta = timedelta(days=DEFAULT_KEEP_OUTBOX_DAYS)
    keep_audit: timedelta = timedelta(days=DEFAULT_KEEP_AUDIT_DAYS)


@dataclass(frozen=True)
class RetentionReport:
    """How many rows of each table one call deleted."""

    runs: int = 0
    outbox: int = 0
    messages: int = 0
    events: int = 0  # events deleted (with what each did to each task)
    rounds: int = 0
    audit: int = 0
    drops: int = 0  # keys of files the drop folder ingested


_Model = type[Run | MessageOut | MessageIn | Event | EventMatch | DependencyRound | AuditRecord | DropIngested]


def _table(model: _Model) -> Table:
    return model.metadata.tables[str(model.__tablename__)]


@dataclass(frozen=True)
class _Old:
    """What is past its horizon in one table: a batch of such rows' keys (read without a lock) and the key columns."""

    table: Table
    keys: Select[Any]
    columns: tuple[str, ...] = ("id",)

    def deleting(self) -> Delete:
        """Delete the batch, skipping rows another host has locked (PostgreSQL)."""
        locked = self.keys.with_for_update(of=self.keys.selected_columns[0].table, skip_locked=True)
        key = (
            self.table.c[self.columns[0]]
            if len(self.columns) == 1
            else tuple_(*(self.table.c[c] for c in self.columns))
        )
        return delete(self.table).where(key.in_(locked))


def _old_runs(cutoff: datetime, batch: int) -> _Old:
    old = _table(Run).alias("old")
    return _Old(_table(Run), select(old.c.id).where(old.c.ended_at < cutoff).limit(batch))


def _old_outbox(cutoff: datetime, batch: int) -> _Old:
    old = _table(MessageOut).alias("old")
    # A row still to be sent stays, however old (its retries end within hours: docs/delivery.md).
    waiting = old.c.delivery == DeliveryStatus.PENDING.value
    return _Old(_table(MessageOut), select(old.c.id).where(old.c.created_at < cutoff, ~waiting).limit(batch))


def _old_messages(cutoff: datetime, batch: int) -> _Old:
    inbound = _table(MessageIn)
    old, newer = inbound.alias("old"), inbound.alias("newer")
    # A newer chain row of the same series: then this row is not what the series is found by.
    superseded = exists().where(
        and_(newer.c.series_id == old.c.series_id, newer.c.is_extra.is_(False), newer.c.id > old.c.id)
    )
    not_first = old.c.id != old.c.series_id
    ids = (
        select(old.c.id)
        .where(
            old.c.status.not_in(_LIVE),
            old.c.updated_at < cutoff,
            or_(old.c.series_id.is_(None), old.c.is_extra.is_(True), and_(not_first, superseded)),
        )
        .limit(batch)
    )
    return _Old(inbound, ids)


def _old_matches(cutoff: datetime, batch: int) -> _Old:
    old = _table(EventMatch).alias("old")
    keys = select(old.c.event_id, old.c.series_id).where(old.c.created_at < cutoff).limit(batch)
    return _Old(_table(EventMatch), keys, ("event_id", "series_id"))


def _old_events(cutoff: datetime, batch: int) -> _Old:
    old = _table(Event).alias("old")
    return _Old(_table(Event), select(old.c.id).where(old.c.created_at < cutoff).limit(batch))


def _old_rounds(cutoff: datetime, batch: int) -> _Old:
    rounds = _table(DependencyRound)
    old, newer = rounds.alias("old"), rounds.alias("newer")
    superseded = exists().where(and_(newer.c.downstream_id == old.c.downstream_id, newer.c.round_no > old.c.round_no))
    keys = select(old.c.downstream_id, old.c.round_no).where(old.c.created_at < cutoff, superseded).limit(batch)
    return _Old(rounds, keys, ("downstream_id", "round_no"))


def _old_audit(cutoff: datetime, batch: int) -> _Old:
    old = _table(AuditRecord).alias("old")
    return _Old(_table(AuditRecord), select(old.c.id).where(old.c.at < cutoff).limit(batch))


def _old_drops(cutoff: datetime, batch: int) -> _Old:
    old = _table(DropIngested).alias("old")
    return _Old(_table(DropIngested), select(old.c.key).where(old.c.created_at < cutoff).limit(batch), ("key",))


def _delete_in_batches(engine: Engine, old: _Old, batch: int) -> int:
    statement, total = old.deleting(), 0
    while True:
        with transaction(engine) as db:
            deleted = db.connection().execute(statement).rowcount
        total += deleted
        if deleted < batch:  # fewer than asked: nothing old is left (or another host holds the rest)
            return total


def _everything_old(now: datetime, policy: RetentionPolicy, batch: int) -> list[_Old]:
    """In the order they are deleted: a match before its event."""
    runs_cutoff, outbox_cutoff = now - policy.keep_runs, now - policy.keep_outbox
    return [
        _old_runs(runs_cutoff, batch),
        _old_outbox(outbox_cutoff, batch),
        _old_messages(runs_cutoff, batch),
        _old_matches(runs_cutoff, batch),  # a match is as old as its event
        _old_events(runs_cutoff, batch),
        _old_rounds(runs_cutoff, batch),
        _old_audit(now - policy.keep_audit, batch),
        _old_drops(runs_cutoff, batch),
    ]


def retention_due(engine: Engine, *, now: datetime, policy: RetentionPolicy) -> bool:
    """Whether anything is past its horizon: a read, so an idle host that finds nothing writes nothing."""
    with read_transaction(engine) as db:
        return any(db.execute(old.keys.limit(1)).first() is not None for old in _everything_old(now, policy, 1))


def apply_retention(engine: Engine, *, now: datetime, policy: RetentionPolicy, batch: int = 5000) -> RetentionReport:
    """Delete history older than the policy's horizons, ``batch`` rows per transaction."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    runs, outbox, messages, _, events, rounds, audit, drops = (
        _delete_in_batches(engine, old, batch) for old in _everything_old(now, policy, batch)
    )
    return RetentionReport(
        runs=runs, outbox=outbox, messages=messages, events=events, rounds=rounds, audit=audit, drops=drops
    )
