"""The ``tasks`` section: each series that is still live (pending, running or paused), as its definition and
where it stands: its next run, the slot that run stands for, how many occurrences it has had. Not its history.
A task started by events keeps its patterns (``content.on``) and listens on the new store; one that runs after
other tasks keeps its upstreams and rule (``content.after``, ``content.when``), and its dependencies are made again
on the new store (the series keep their ids); one no time starts has its next run at 9999-12-31
(docs/data-model.md), as in the store. Events themselves and their matches are not exported (they are history),
nor a pre-script's state, nor the upstream endings a task after others has collected towards its next round.

An imported series keeps its id; its one row is written with that id, so ``inbox show SERIES_ID`` finds it and it
counts as the series' first row. A running occurrence is exported as pending at its slot (it runs again on the
new store); a pause or cancel waiting on it (``next_status``) and an update waiting on it (``pending_update`` in
``content``) travel with it and apply when that occurrence ends, as they would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, JsonValue, Strict
from sqlmodel import Session, col, select

from inbox import validation as check
from inbox.channels import deliver_choice
from inbox.enums import LIVE_STATUSES, CatchUp, ContextMode, Kind, Status, When
from inbox.errors import InvalidInput
from inbox.event_names import check_patterns
from inbox.schedules import from_recurrence
from inbox.schedules.active_hours import normalized as window_of
from inbox.store import graph, triggers
from inbox.store import tags as tag_index
from inbox.store.models import MessageIn
from inbox.store.tags import gate_of, limited
from inbox.task_fields import ModelName, Prompt, Retries, Script, Zone
from inbox.transfer.section import Author, Content, Id, Instant, Item, Reason, Section, SessionName, chunks


class TaskContent(Content):
    """The row's ``content``: the prompt (``text``) and what rides with it."""

    text: Prompt
    script: Script | None = None
    model: ModelName | None = None
    provider: Literal["anthropic", "openai"] | None = None
    data: JsonValue = None
    pending_update: dict[str, JsonValue] | None = None
    on: Annotated[list[str], AfterValidator(lambda v: check_patterns(v, field="on"))] | None = None  # event patterns
    after: Annotated[list[Id], AfterValidator(check.upstreams)] | None = None  # the series ids it runs after
    when: Annotated[When, Strict(False)] | None = None


def _recurrence(value: str) -> str:
    from_recurrence(value)
    return value


def _name(value: str) -> str:
    if check.name(value) is None:
        raise InvalidInput("name", "must not be blank (null for a task without a name)")
    return value


Count = Annotated[int, Field(ge=0, le=check.MAX_RUNS)]


class TaskItem(Item):
    series_id: Id
    session: SessionName = "main"
    kind: Annotated[Kind, Strict(False)] = Kind.TASK
    name: Annotated[str, AfterValidator(_name)] | None = None
    content: TaskContent
    recurrence: Annotated[str, AfterValidator(_recurrence)] | None = None  # "cron 0 9 * * *", "every 2h"; none: once
    timezone: Zone = "UTC"
    status: Literal["pending", "paused"] = "pending"
    next_status: Literal["paused", "cancelled"] | None = None  # applied when the next occurrence ends
    next_run: Instant
    slot: Instant | None = None  # the slot the next run stands for (its occurrence_at)
    occurrence_no: Annotated[int, Field(ge=1, le=check.MAX_RUNS)] = 1
    catch_up: Annotated[CatchUp, Strict(False)] = CatchUp.ONCE
    max_runs: Annotated[int, Field(ge=1, le=check.MAX_RUNS)] | None = None
    retries: Retries = 3
    timeout_s: Annotated[float, Field(gt=0, le=366 * 86400)] | None = None
    context: Annotated[ContextMode, Strict(False)] | None = None
    remind: bool = False
    deliver: Annotated[str, AfterValidator(lambda v: deliver_choice(v))] | None = None  # the channel's name
    tags: Annotated[list[str], AfterValidator(check.tags)] = Field(default_factory=list)
    priority: Annotated[int, AfterValidator(check.priority)] = 0
    active_hours: Annotated[str, AfterValidator(lambda v: window_of(v))] | None = None
    tries: Count = 0
    consecutive_failures: Count = 0
    reason: Reason | None = None
    created_by: Author = "user"
    script_by: Author | None = None
    created_at: Instant


def _dump(db: Session) -> list[TaskItem]:
    rows = db.exec(
        select(MessageIn)
        .where(
            col(MessageIn.series_id).is_not(None),
            col(MessageIn.is_extra).is_(False),
            col(MessageIn.status).in_([s.value for s in LIVE_STATUSES]),
        )
        .order_by(col(MessageIn.series_id))
    ).all()
    created = _first_rows_created(db, [row.series_id for row in rows if row.series_id])
    return [_item(row, created.get(row.series_id or "", row.created_at)) for row in rows]


def _first_rows_created(db: Session, series_ids: Sequence[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for part in chunks(list(series_ids)):
        found.update(db.exec(select(MessageIn.id, MessageIn.created_at).where(col(MessageIn.id).in_(part))).all())
    return found


def _item(row: MessageIn, created_at: datetime) -> TaskItem:
    assert row.series_id is not None
    status = Status.PAUSED if row.status == Status.PAUSED else Status.PENDING
    content: dict[str, Any] = dict(row.content)
    return TaskItem.model_validate(
        {
            "series_id": row.series_id,
            "session": row.session,
            "kind": row.kind,
            "name": row.name,
            "content": content,
            "recurrence": row.recurrence,
            "timezone": row.timezone,
            "status": status.value,
            "next_status": row.next_status,
            "next_run": row.process_after,
            "slot": row.occurrence_at,
            "occurrence_no": row.occurrence_no,
            "catch_up": row.catch_up,
            "max_runs": row.max_runs,
            "retries": row.retries,
            "timeout_s": row.timeout_s,
            "context": row.context,
            "remind": row.remind,
            "deliver": row.deliver,
            "tags": row.tags or [],
            "priority": row.priority,
            "active_hours": row.active_hours,
            "tries": row.tries,
            "consecutive_failures": row.consecutive_failures,
            "reason": row.reason,
            "created_by": row.created_by,
            "script_by": row.script_by,
            "created_at": created_at,
        },
        strict=False,
    )


def _present(db: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(list(keys)):
        found.update(s for s in db.exec(select(MessageIn.series_id).where(col(MessageIn.series_id).in_(part))) if s)
        found.update(db.exec(select(MessageIn.id).where(col(MessageIn.id).in_(part))).all())
    return found


def _write(db: Session, items: Sequence[TaskItem], now: datetime) -> None:
    limited_tags = limited(db)
    for item in items:
        db.add(
            MessageIn(
                id=item.series_id,
                series_id=item.series_id,
                session=item.session,
                kind=item.kind,
                content=item.content.model_dump(mode="json"),
                status=Status(item.status),
                next_status=item.next_status,
                process_after=item.next_run,
                occurrence_at=item.slot,
                occurrence_no=item.occurrence_no,
                recurrence=item.recurrence,
                timezone=item.timezone,
                name=item.name,
                catch_up=item.catch_up,
                max_runs=item.max_runs,
                retries=item.retries,
                timeout_s=item.timeout_s,
                context=item.context,
                remind=item.remind,
                deliver=item.deliver,
                tags=item.tags or None,
                priority=item.priority,
                gate=gate_of(item.tags, limited_tags),
                active_hours=item.active_hours,
                tries=item.tries,
                consecutive_failures=item.consecutive_failures,
                reason=item.reason,
                created_by=item.created_by,
                script_by=item.script_by,
                created_at=item.created_at,
                updated_at=now,
            )
        )
    db.flush()
    for item in items:
        if item.tags:  # the index a tag's tasks are found by
            tag_index.replace(db, item.series_id, item.tags)
        if item.content.on:  # the index events find their tasks by
            triggers.replace(db, item.series_id, item.session, item.content.on)
        if item.content.after:  # the edges endings find their downstreams by (a cycle is refused, naming it)
            graph.replace(db, item.series_id, item.content.after, item.content.when or When.ALL_SUCCESS, now=now)


TASKS: Section[TaskItem] = Section(
    name="tasks",
    item=TaskItem,
    dump=_dump,
    key=lambda item: item.series_id,
    present=_present,
    write=_write,
)
