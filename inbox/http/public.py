"""The public ``/v1`` API: messages, tasks, their runs, and the outbox; every route needs an admin token.

Each route calls one :class:`inbox.api.Inbox` method of the host's inbox (which acts as ``"api"``, so what the
API creates carries ``created_by="api"``; a body cannot choose it) and answers with that method's view as JSON.
Bodies reject unknown fields and values of the wrong JSON type; ``app.py`` turns those, like every
:class:`~inbox.errors.InvalidInput`, into 422 ``{"error": "<field>: <reason>", "field": "<field>"}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from inbox.api import Inbox
from inbox.errors import InvalidInput, NotFound
from inbox.http.auth import check_admin
from inbox.http.errors import error_responses, token_first
from inbox.views import Message, MessageDetail, OutboxItem, RunRecord, Scheduled, Task

router = APIRouter(
    prefix="/v1",
    route_class=token_first(check_admin),
    dependencies=[Depends(check_admin)],
    responses=error_responses(401, 403, 422),
)

TaskId = Annotated[
    str, Path(description="The series id, any occurrence id, a unique prefix of one (6+ characters), or the name.")
]


_FLAG = re.compile(r"--(?=(?:prompt|cron|every|at|in|tz|script|name)\b)")


def _inbox(request: Request) -> Iterator[Inbox]:
    """The host's inbox; its refusals name the request's fields ("tz"), not the command line's ("--tz")."""
    inbox: Inbox = request.app.state.host.inbox
    try:
        yield inbox
    except InvalidInput as exc:
        raise InvalidInput(exc.field.removeprefix("--"), _FLAG.sub("", exc.reason)) from exc


Api = Annotated[Inbox, Depends(_inbox)]


class _Body(BaseModel):
    # strict: a JSON value of the wrong type is refused, never guessed into another ("3" is not 3)
    model_config = ConfigDict(extra="forbid", strict=True)


class NewMessage(_Body):
    text: str
    session: str = "main"
    at: str | None = Field(default=None, description="ISO 8601; naive means wall time in `tz`.")
    in_: str | None = Field(default=None, alias="in", description="A duration from now: 10m, 2h.")
    tz: str | None = None


class NewTask(_Body):
    prompt: str = Field(description="What the assistant should do (or the reminder text).")
    cron: str | None = Field(default=None, description="5-field cron, or @hourly @daily ...")
    every: str | None = Field(default=None, description="Fixed interval: 30s 5m 2h 1d 1h30m.")
    at: str | None = Field(default=None, description="ISO 8601; naive means wall time in the task's zone.")
    in_: str | None = Field(default=None, alias="in", description="A duration from now: 10m, 2h.")
    tz: str | None = Field(default=None, description="IANA timezone; default INBOX_TZ, TZ, the system zone.")
    session: str = "main"
    name: str | None = None
    script: str | None = Field(default=None, description="Pre-script text (shebang honoured, bash when none).")
    context: Literal["session", "series", "fresh"] | None = None
    catch_up: Literal["once", "skip", "all"] = "once"
    max_runs: int | None = None
    timeout: str | None = Field(default=None, description="Per-run time limit, e.g. 10m.")
    retries: int = 3
    remind: bool = Field(default=False, description="Deliver the text itself at its time; no model call.")
    model: str | None = Field(default=None, description="This task's model; default INBOX_MODEL.")
    provider: Literal["anthropic", "openai"] | None = Field(default=None, description="Default INBOX_PROVIDER.")


class TaskChange(_Body):
    prompt: str | None = None
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None
    script: str | None = Field(default=None, description='New pre-script text; "" removes it.')
    name: str | None = None


@router.post("/messages", status_code=201, response_model=Message, tags=["messages"])
def send_message(body: NewMessage, inbox: Api) -> Message:
    """Drop a message (chat) into a session's inbox, now or at a later time."""
    return inbox.send(body.text, session=body.session, at=body.at, in_=body.in_, tz=body.tz)


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
    """Schedule a task or a reminder: exactly one of `cron`, `every`, `at`, `in`."""
    return inbox.schedule(body.prompt, **body.model_dump(exclude={"prompt"}))  # fields are its keywords


@router.get("/tasks", response_model=list[Task], tags=["tasks"])
def list_tasks(
    inbox: Api,
    status: Literal["active", "paused", "ended", "all"] = "active",
    session: str | None = None,
) -> list[Task]:
    """One row per series."""
    return inbox.tasks(status=status, session=session)


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
    return inbox.update(task_id, **body.model_dump())


@router.delete("/tasks/{task_id}", response_model=Task, responses=error_responses(404, 409), tags=["tasks"])
def cancel_task(task_id: TaskId, inbox: Api) -> Task:
    """Cancel the series (cancelling twice is not an error); its history stays."""
    return inbox.cancel(task_id)


@router.get("/tasks/{task_id}/runs", response_model=list[RunRecord], responses=error_responses(404), tags=["tasks"])
def task_runs(
    task_id: TaskId,
    inbox: Api,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
    status: Annotated[str | None, Query(description="Only runs with this outcome.")] = None,
) -> list[RunRecord]:
    """The series' run history, newest first."""
    return inbox.runs(task_id, limit=limit, status=status)


@router.get("/outbox", response_model=list[OutboxItem], tags=["outbox"])
def outbox(
    inbox: Api,
    session: str | None = None,
    after: Annotated[str | None, Query(description="Only items after this outbox id.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> list[OutboxItem]:
    """What was delivered: the newest `limit` items, or with `after` the ones after it; oldest first."""
    return inbox.outbox(session=session, after=after, limit=limit)
