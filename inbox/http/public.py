"""The public ``/v1`` API: messages, tasks, their runs, and the outbox; every route needs an API token whose scope
allows it (:func:`inbox.http.auth.needed_scope`: GET needs ``read``, sending a message ``send``, the rest ``admin``).

Each route calls one :class:`inbox.api.Inbox` method of the host's inbox acting for the request's token (what it
creates carries ``created_by="token:NAME"``, as does its audit record; a body cannot choose it) and answers with
that method's view as JSON.
A task's body is :class:`inbox.task_fields.NewTask` (or ``TaskChange``), the one model of a task's fields the
Python API, the CLI and the agent's tools share: its validators run as the body is read. Bodies reject unknown
fields and values of the wrong JSON type; ``app.py`` turns those, like every :class:`~inbox.errors.InvalidInput`,
into 422 ``{"error": "<field>: <reason>", "field": "<field>"}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox import emitting
from inbox.api import Inbox
from inbox.audit import AuditEntry
from inbox.errors import NotFound
from inbox.http.auth import Caller, check_token
from inbox.http.errors import error_responses, token_first
from inbox.paging import DEFAULT_PAGE, MAX_PAGE, Page
from inbox.task_fields import NewTask, TaskChange
from inbox.trigger_views import EventEmitted, Graph
from inbox.views import Message, MessageDetail, OutboxItem, RunRecord, Scheduled, Task

router = APIRouter(
    prefix="/v1",
    route_class=token_first(check_token),
    dependencies=[Depends(check_token)],
    responses=error_responses(401, 403, 422),
)

TaskId = Annotated[
    str, Path(description="The series id, any occurrence id, a unique prefix of one (6+ characters), or the name.")
]


def _inbox(request: Request, caller: Annotated[Caller, Depends(check_token)]) -> Inbox:
    """The host's inbox acting for the request's token: what it creates or changes is recorded as made by
    ``token:NAME`` (docs/audit.md), whatever the body says."""
    inbox: Inbox = request.app.state.host.inbox
    return inbox.acting_as(caller.actor)


Api = Annotated[Inbox, Depends(_inbox)]
T = TypeVar("T")


class _Body(BaseModel):
    # strict: a JSON value of the wrong type is refused, never guessed into another ("3" is not 3)
    model_config = ConfigDict(extra="forbid", strict=True)


class NewMessage(_Body):
    text: str
    session: str = "main"
    at: str | None = Field(default=None, description="ISO 8601; naive means wall time in `tz`.")
    in_: str | None = Field(default=None, alias="in", description="A duration from now: 10m, 2h.")
    tz: str | None = None


@router.post("/messages", status_code=201, response_model=Message, tags=["messages"])
def send_message(body: NewMessage, inbox: Api) -> Message:
    """Drop a message (chat) into a session's inbox, now or at a later time."""
    return inbox.send(body.text, session=body.session, at=body.at, in_=body.in_, tz=body.tz)


class NewEvent(_Body):
    name: str = Field(description="Dotted words, e.g. mail.received.")
    data: Any = Field(default=None, description="Any JSON (at most 1 MiB); the runs it starts are given it.")
    session: str | None = Field(default=None, description="Only this session's tasks; default every session's.")
    key: str | None = Field(
        default=None, description="Idempotency key: a second event with it within 24 h starts nothing."
    )


@router.post("/events", status_code=202, response_model=EventEmitted, tags=["events"])
def emit_event(body: NewEvent, inbox: Api, request: Request) -> EventEmitted:
    """Emit an event: one run of every active task whose `on` pattern matches starts (`matched`); a series that
    already has one waiting is `coalesced`. With a `key` used within 24 h: the first event's answer, nothing new."""
    done = inbox.emit(body.name, body.data, session=body.session, key=body.key)
    if done.matched and not done.duplicate:
        wake_host(request, emitting.sessions_of(inbox.engine, done.matched))
    return done


def wake_host(request: Request, sessions: set[str]) -> None:
    """The serving host gets the new work going at once rather than at its next look: it rings the sessions'
    doorbells (a waiting runner claims now) and, where no runner was waiting, nudges its loop (which starts one).

    Not nudging when every session had a waiting claim matters for latency: the loop's pass would take the
    store's write lock (SQLite) at the very moment the woken claim needs it."""
    host = request.app.state.host
    waiting = [host.doorbells.ring(session) for session in sessions]
    nudge = getattr(host, "nudge", None)
    if nudge is not None and not all(waiting):
        nudge.set()


@router.get("/messages/{message_id}", response_model=MessageDetail, responses=error_responses(404), tags=["messages"])
def get_message(
    message_id: Annotated[str, Path(description="A message id (or a task occurrence's), or a unique prefix of one.")],
    inbox: Api,
) -> MessageDetail:
    """One message: its kind, status, the error it failed with, and each attempt at it (newest first)."""
    try:
        return inbox.message(message_id)
    except NotFound:
        raise NotFound("message", message_id, field="message_id") from None


@router.post("/tasks", status_code=201, response_model=Scheduled, tags=["tasks"])
def schedule_task(body: NewTask, inbox: Api) -> Scheduled:
    """Schedule a task or a reminder: exactly one of `cron`, `every`, `at`, `in`; or `on` (events) or `after`
    (other tasks), alone or beside `cron` or `every`."""
    return inbox.schedule(body)


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"Rows per page, 1 to {MAX_PAGE:,} (default {DEFAULT_PAGE}).")
]
Cursor = Annotated[
    str | None,
    Query(
        description='Where the page starts: the `cursor` of the URL in the previous page\'s `Link: <…>; rel="next"`.'
    ),
]
_PAGED = {"headers": {"Link": {"description": 'The next page: `<URL>; rel="next"`; absent on the last page.'}}}


def _paged(request: Request, response: Response, page: Page[T]) -> list[T]:
    """A page's rows; the URL of the next page (this one's, with the next cursor) goes in the ``Link`` header."""
    if page.next_cursor is not None:
        response.headers["link"] = f'<{request.url.include_query_params(cursor=page.next_cursor)}>; rel="next"'
    return page.rows


@router.get("/tasks", response_model=list[Task], responses={200: _PAGED}, tags=["tasks"])
def list_tasks(
    inbox: Api,
    request: Request,
    response: Response,
    status: Literal["active", "paused", "ended", "all"] = "active",
    session: str | None = None,
    tag: Annotated[str | None, Query(description="Only the tasks carrying this tag.")] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> list[Task]:
    """One row per series: the live ones soonest next run first, then (ended, all) the ended ones newest first;
    `tag`: only the tasks carrying it."""
    page = inbox.tasks_page(status=status, session=session, tag=tag, limit=limit, cursor=cursor)
    return _paged(request, response, page)


# The ``{task_id}:action`` routes come before ``{task_id}``, whose pattern also matches "ID:pause": a POST
# there reaches its action; a GET of it is get_task with the id "ID:pause", which is a 404.
@router.post("/tasks/{task_id}:pause", response_model=Task, responses=error_responses(404, 409), tags=["tasks"])
def pause_task(task_id: TaskId, inbox: Api) -> Task:
    """Pause the series; a running occurrence finishes and its follow-up waits paused."""
    return inbox.pause(task_id)


@router.post("/tasks/{task_id}:resume", response_model=Task, responses=error_responses(404, 409), tags=["tasks"])
def resume_task(task_id: TaskId, inbox: Api) -> Task:
    """Resume a paused series; missed slots follow its catch-up policy."""
    return inbox.resume(task_id)


@router.post(
    "/tasks/{task_id}:run", status_code=201, response_model=Message, responses=error_responses(404, 409), tags=["tasks"]
)
def run_task(task_id: TaskId, inbox: Api) -> Message:
    """Add an extra occurrence due now; the schedule does not move."""
    return inbox.run_now(task_id)


@router.get("/tasks/{task_id}", response_model=Task, responses=error_responses(404), tags=["tasks"])
def get_task(task_id: TaskId, inbox: Api) -> Task:
    """One series: its definition, status, next run and how many runs it has had."""
    return inbox.get(task_id)


@router.patch("/tasks/{task_id}", response_model=Task, responses=error_responses(404, 409), tags=["tasks"])
def update_task(task_id: TaskId, body: TaskChange, inbox: Api) -> Task:
    """Change the prompt, schedule, zone, script or name; a new schedule moves the next run at once."""
    return inbox.update(task_id, body)


@router.get("/graph", response_model=Graph, responses=error_responses(404), tags=["tasks"])
def dependency_graph(
    inbox: Api,
    task: Annotated[str | None, Query(description="Only the part of the graph this task is in.")] = None,
) -> Graph:
    """The dependency graph: tasks that run after others (`after`) and those they run after, as nodes (series id,
    name, status) and edges (upstream, downstream, when)."""
    return inbox.graph(task)


@router.delete("/tasks/{task_id}", response_model=Task, responses=error_responses(404, 409), tags=["tasks"])
def cancel_task(task_id: TaskId, inbox: Api) -> Task:
    """Cancel the series (cancelling twice is not an error); its history stays."""
    return inbox.cancel(task_id)


@router.get(
    "/tasks/{task_id}/runs",
    response_model=list[RunRecord],
    responses={200: _PAGED, **error_responses(404)},
    tags=["tasks"],
)
def task_runs(
    task_id: TaskId,
    inbox: Api,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_PAGE,
    status: Annotated[str | None, Query(description="Only runs with this outcome.")] = None,
    cursor: Cursor = None,
) -> list[RunRecord]:
    """The series' run history, the latest started first."""
    return _paged(request, response, inbox.runs_page(task_id, limit=limit, status=status, cursor=cursor))


@router.get("/outbox", response_model=list[OutboxItem], responses={200: _PAGED}, tags=["outbox"])
def outbox(
    inbox: Api,
    request: Request,
    response: Response,
    session: str | None = None,
    after: Annotated[str | None, Query(description='Only items after this outbox id ("" for every item).')] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> list[OutboxItem]:
    """What was sent, each page oldest first: the newest `limit` items, the next page the ones before them; or
    with `after` the ones after it, the next page the ones after those."""
    page = inbox.outbox_page(session=session, after=after, limit=limit, cursor=cursor)
    return _paged(request, response, page)


@router.get("/audit", response_model=list[AuditEntry], responses={200: _PAGED}, tags=["audit"])
def audit_trail(
    inbox: Api,
    request: Request,
    response: Response,
    subject: Annotated[
        str | None,
        Query(description="A task's or occurrence's id or name, or a token's, hook's, channel's or session's name."),
    ] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> list[AuditEntry]:
    """Who changed what and when, newest first: task, token, hook, channel and session changes, each with the
    fields it changed (before and after)."""
    return _paged(request, response, inbox.audit_page(subject, limit=limit, cursor=cursor))
