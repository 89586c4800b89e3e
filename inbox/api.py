"""The Python API: ``from inbox import Inbox``. Methods mirror the CLI; results are frozen pydantic models.

Invalid input raises :class:`inbox.errors.InvalidInput` (a ``ValueError`` naming the field) and writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from agent_runner.protocol import AGENT_PREFIX
from inbox import emitting, kinds, task_fields
from inbox import validation as check
from inbox.api_admin import AdminMethods
from inbox.api_delivery import DeliveryMethods
from inbox.api_limits import LimitMethods
from inbox.api_listings import ListingMethods, task_views
from inbox.api_stats import StatsMethods
from inbox.config import Settings, load_settings
from inbox.enums import AuditAction, CatchUp, ContextMode, Kind, When
from inbox.errors import InvalidInput
from inbox.schedules import (
    EverySchedule,
    choose,
    parse_at,
    parse_cron,
    parse_duration,
    parse_every,
    upcoming,
)
from inbox.schedules.schedule import parse_in
from inbox.store import audit, bulk, changes, graph, lookup, queries, rounds, series
from inbox.store import channels as channel_store
from inbox.store.endings import end_failed_rounds
from inbox.store.engine import open_engine, read_transaction, transaction
from inbox.store.models import MessageIn
from inbox.store.types import Clock, utcnow
from inbox.trigger_views import EventEmitted, EventSeen, Graph, graph_view
from inbox.views import Message, MessageDetail, Scheduled, Task, describe_schedule, message_detail, message_view


def whole_second(instant: datetime) -> datetime:
    """Rounded up to the next whole second (unchanged when already whole)."""
    return instant.replace(microsecond=0) + timedelta(seconds=1) if instant.microsecond else instant


class Inbox(DeliveryMethods, ListingMethods, LimitMethods, StatsMethods, AdminMethods):
    def __init__(
        self,
        url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        actor: str = "user",
        clock: Clock = utcnow,
        engine: Engine | None = None,
    ) -> None:
        self.settings: Settings = load_settings(env)
        self.url = url or self.settings.database_url
        self.engine = engine or open_engine(self.url)
        self.actor = actor  # who created_by names; the host sets it, callers never choose it per message
        self.clock = clock

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def acting_as(self, actor: str) -> Inbox:
        """This inbox (same store, settings and clock) acting for ``actor``: what it creates carries that name."""
        other = copy.copy(self)
        other.actor = actor
        return other

    def zone(self, explicit: str | None = None) -> ZoneInfo:
        return self.settings.zone(explicit)

    # -- writing ---------------------------------------------------------------------------------------
    def send(
        self,
        text: str,
        *,
        session: str = "main",
        at: str | None = None,
        in_: str | None = None,
        tz: str | None = None,
        kind: Kind = Kind.CHAT,
    ) -> Message:
        return self.send_many([text], session=session, at=at, in_=in_, tz=tz, kind=kind)[0]

    def send_many(
        self,
        texts: Sequence[str],
        *,
        session: str = "main",
        at: str | None = None,
        in_: str | None = None,
        tz: str | None = None,
        kind: Kind = Kind.CHAT,
    ) -> list[Message]:
        """Drop many messages into one session in one transaction (all or nothing); each is checked first."""
        for index, text in enumerate(texts):
            check.text(text, field="text" if len(texts) == 1 else f"texts[{index}]")
        check.session_name(session)
        now = self.clock()
        if at is not None and in_ is not None:
            raise InvalidInput("at", "give at or in, not both", mentions=("at", "in"))
        when = now
        if at is not None:
            when = parse_at(at, self.zone(tz), now).when
        elif in_ is not None:
            when = parse_in(in_, now).when
        rows = bulk.message_rows(texts, session=session, kind=kind, process_after=when, now=now, created_by=self.actor)
        bulk.write_messages(self.engine, rows)
        return [
            Message(
                id=row["id"],
                session=session,
                kind=kind.value,
                status=row["status"],
                text=row["content"]["text"],
                process_after=when,
                created_by=self.actor,
                created_at=now,
            )
            for row in rows
        ]

    def schedule(self, prompt: str | task_fields.NewTask, **fields: Any) -> Scheduled:
        """Schedule a task: a :class:`~inbox.task_fields.NewTask`, or its fields as keywords (``in_`` for ``in``)."""
        task = prompt if isinstance(prompt, task_fields.NewTask) else _new_task(prompt, fields)
        now = self.clock()
        zone = self.zone(task.tz)
        timed = any(value is not None for value in (task.cron, task.every, task.at, task.in_))
        plan = (
            choose(cron_expr=task.cron, every=task.every, at=task.at, in_=task.in_, zone=zone, now=now)
            if timed
            else None
        )
        if isinstance(plan, EverySchedule):
            now = whole_second(now)  # the anchor of an interval series sits on a whole second
        limit = parse_duration(task.timeout, field="timeout") if task.timeout is not None else None
        do = "remind" if task.remind else (task.do or kinds.AGENT)
        given = kinds.checked_with(do, task.with_, by_agent=self.actor.startswith(AGENT_PREFIX))
        new = series.NewTask(
            prompt=task.prompt,
            schedule=plan,
            zone=zone,
            session=task.session,
            name=task.name,
            script=task.script,
            context=ContextMode(task.context) if task.context is not None else None,
            catch_up=CatchUp(task.catch_up),
            max_runs=task.max_runs,
            timeout_s=limit.total_seconds() if limit else None,
            retries=task.retries,
            remind=do == kinds.REMIND,
            do=do,
            with_=given,
            model=task.model,
            provider=task.provider,
            on=tuple(task.on or ()),
            deliver=task.deliver,
            tags=tuple(task.tags or ()),
            priority=task.priority,
            active_hours=task.active_hours,
        )
        with transaction(self.engine) as db:
            channel_store.existing(db, task.deliver)
            if task.after:
                new = replace(new, after=tuple(graph.resolve(db, task.after)), when=When(task.when or When.ALL_SUCCESS))
            row = series.create_task(db, new, now=now, created_by=self.actor)
            assert row.series_id is not None
            audit.task_change(db, self.actor, AuditAction.TASK_CREATE, row, now, before={})
        runs = upcoming(plan, zone, row.process_after, 3) if plan is not None else []  # no time: no fire times
        return Scheduled(
            id=row.id,
            series_id=row.series_id,
            session=row.session,
            name=row.name,
            schedule=describe_schedule(row),
            timezone=zone.key,
            next_runs=[t.astimezone(zone) for t in runs],
        )

    def pause(self, ident: str) -> Task:
        with transaction(self.engine) as db:
            now, before = self.clock(), self._before(db, ident)
            row = series.pause(db, ident, now=now, reason=f"paused by {self.actor}")
            audit.task_change(db, self.actor, AuditAction.TASK_PAUSE, row, now, before=before)
            return self._task(db, row.series_id or row.id)

    def resume(self, ident: str) -> Task:
        """Resume a paused task; one that runs after others runs the round its upstreams completed meanwhile."""
        with transaction(self.engine) as db:
            now, before = self.clock(), self._before(db, ident)
            row = series.resume(db, ident, now=now)
            audit.task_change(db, self.actor, AuditAction.TASK_RESUME, row, now, before=before)
            series_id = row.series_id or row.id
            end_failed_rounds(db, rounds.ready(db, series_id, now=now), now=now)
            return self._task(db, series_id)

    def cancel(self, ident: str) -> Task:
        """Cancel a task; the tasks that run after it are paused, saying why (they would wait for ever)."""
        with transaction(self.engine) as db:
            now, before = self.clock(), self._before(db, ident)
            row = series.cancel(db, ident, now=now, reason=f"cancelled by {self.actor}")
            audit.task_change(db, self.actor, AuditAction.TASK_CANCEL, row, now, before=before)
            rounds.upstream_cancelled(db, row, now=now)
            return self._task(db, row.series_id or row.id)

    def update(self, ident: str, change: task_fields.TaskChange | None = None, **fields: Any) -> Task:
        """Change a task: a :class:`~inbox.task_fields.TaskChange`, or its fields as keywords."""
        given = change or task_fields.validated(task_fields.TaskChange, fields, by_name=True)
        now = whole_second(self.clock()) if given.every is not None else self.clock()
        zone = self.zone(given.tz) if given.tz is not None else None
        with transaction(self.engine) as db:
            head = lookup.latest_row(db, lookup.find_series_id(db, ident))
            before = audit.task_fields(head)
            task_zone = zone or ZoneInfo(head.timezone)
            plan = (
                parse_cron(given.cron)
                if given.cron is not None
                else parse_every(given.every)
                if given.every is not None
                else parse_at(given.at, task_zone, now)
                if given.at is not None
                else None
            )
            kind = self._new_kind(head, given)
            changed = changes.TaskChanges(
                prompt=given.prompt,
                schedule=plan,
                zone=zone,
                script=given.script,
                name=given.name,
                on=tuple(given.on) if given.on is not None else None,
                after=tuple(graph.resolve(db, given.after)) if given.after is not None else None,
                when=When(given.when) if given.when is not None else None,
                deliver=given.deliver,
                tags=tuple(given.tags) if given.tags is not None else None,
                priority=given.priority,
                active_hours=given.active_hours,
                script_by=self.actor,
                kind=kind,
            )
            channel_store.existing(db, given.deliver or None)
            row = changes.update(db, ident, changed, now=now)
            audit.task_change(db, self.actor, AuditAction.TASK_UPDATE, row, now, before=before)
            return self._task(db, row.series_id or row.id)

    def run_now(self, ident: str) -> Message:
        with transaction(self.engine) as db:
            now = self.clock()
            extra = series.run_now(db, ident, now=now)
            ran = {"occurrence": extra.id}
            subject = extra.series_id or extra.id
            audit.record(db, actor=self.actor, action=AuditAction.TASK_RUN, subject=subject, now=now, after=ran)
            return message_view(extra)

    def emit(self, name: str, data: Any = None, *, session: str | None = None, key: str | None = None) -> EventEmitted:
        """Emit an event: one occurrence of every active task whose ``on`` pattern matches ``name`` starts (with a
        ``session``, only that session's tasks). A ``key`` used within 24 h answers the first event, starting nothing.
        """
        return emitting.emit(self.engine, name, data, session=session, key=key, clock=self.clock, actor=self.actor)

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> list[EventEmitted]:
        """Emit many events (each a mapping of ``name``, ``data``, ``session``, ``key``) in one transaction, all
        or nothing, in order: what a feed of events costs far less this way than one ``emit`` each."""
        return emitting.emit_many(self.engine, events, clock=self.clock, actor=self.actor)

    # -- reading ---------------------------------------------------------------------------------------
    def events(self, ident: str, *, limit: int = 10) -> list[EventSeen]:
        """The newest events that matched a task, coalesced ones included, newest first."""
        return emitting.seen_by(self.engine, ident, limit=limit)

    def get(self, ident: str) -> Task:
        with read_transaction(self.engine) as db:
            return self._task(db, lookup.find_series_id(db, ident))

    def graph(self, ident: str | None = None) -> Graph:
        """The dependency graph: every task that runs after another or has one run after it, or (``ident``) the
        part connected to that task; nodes (series id, name, status) and edges (upstream, downstream, when)."""
        with read_transaction(self.engine) as db:
            series_id = lookup.find_series_id(db, ident) if ident is not None else None
            edges = graph.component(db, series_id)
            ids = {node for edge in edges for node in (edge.upstream_id, edge.downstream_id)}
            ids |= {series_id} if series_id else set()
            return graph_view(queries.head_states(db, sorted(ids)), edges)

    def message(self, ident: str, *, runs: int = 100) -> MessageDetail:
        """One inbound row by id (a unique prefix will do): a chat message, a webhook's, or a task occurrence
        (a task's name finds its newest occurrence), with its status, error and newest ``runs`` attempts."""
        check.positive_int(runs, field="runs", maximum=10_000)
        with read_transaction(self.engine) as db:
            row = lookup.find_message(db, ident)
            return message_detail(row, queries.runs_of_message(db, row.id, limit=runs, outcome=None))

    def _new_kind(self, head: MessageIn, given: task_fields.TaskChange) -> changes.NewKind | None:
        """A new ``do`` (its ``with`` checked by its model as at creation, none given: none) or a new ``with`` for
        the kind the task has (or is about to have, when a change waits on its running occurrence)."""
        if given.do is None and given.with_ is None:
            return None
        waiting = head.content.get("pending_update") or {}
        do = given.do or waiting.get("do") or head.do
        checked = kinds.checked_with(do, given.with_, by_agent=self.actor.startswith(AGENT_PREFIX))
        return changes.NewKind(do=do, with_=checked, by=self.actor)

    def _before(self, db: Session, ident: str) -> dict[str, Any]:
        """A task's fields before a change (inbox.store.audit.task_fields)."""
        return audit.task_fields(lookup.latest_row(db, lookup.find_series_id(db, ident)))

    def _task(self, db: Session, series_id: str) -> Task:
        return task_views(db, [lookup.latest_row(db, series_id)], now=self.clock())[0]


def _new_task(prompt: str, fields: Mapping[str, Any]) -> task_fields.NewTask:
    return task_fields.validated(task_fields.NewTask, {"prompt": prompt, **fields}, by_name=True)


__all__ = ["Inbox", "parse_duration"]
