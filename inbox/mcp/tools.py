"""The MCP server's tools: the agent's eleven (docs/agent-tools.md), plus ``read_outbox``, on the Python API.

An MCP client is the user's own program, not the model in a runner: its tools act on any session (the
``session`` argument, default ``main``), with the rights of the command line and none of the agent's limits. What
they write carries ``created_by="mcp"`` (the server's :class:`~inbox.api.Inbox` acts as ``mcp``; no argument
chooses it). Within a call, ``session`` scopes everything as a conversation scopes the agent's tools: tasks are
made, listed and found (by id, prefix or name) in that session only.

``schedule_task`` and ``update_task`` take the fields of :class:`~inbox.task_fields.NewTask` and ``TaskChange``
(every field but ``in``: ``at`` also takes a duration, and ``timezone`` is ``tz``), derived with
:func:`~inbox.task_fields.tool_model` as the agent's are, so their checks and descriptions are the API's own.
Every call is one transaction: a refusal (:class:`Refusal`, ``"<argument>: <reason>"``) writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from inbox import validation as check
from inbox.api import Inbox
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.store.engine import one_transaction, transaction
from inbox.store.lookup import find_in_session
from inbox.store.models import MessageIn
from inbox.task_fields import NewTask, SessionName, TaskChange, tool_model
from inbox.tool_arguments import arguments_schema, at_instant, at_or_in, checked_arguments, refusal

ACTOR = "mcp"
_SESSION_TEXT = "The session (conversation) to act in: tasks are made, listed and found there. Default main."
_TASK_ID_TEXT = "The task's series id, any occurrence id, a unique prefix of one (6+ characters), or its name."
# the API's field -> the tool's argument (as the agent's tools name it)
_AS_ARGUMENT = {"tz": "timezone", "with_": "with"}
MAX_LIST = 100


class Refusal(Exception):
    """A call the server does not carry out; ``str()`` is ``"<argument>: <reason>"``. Nothing was written."""


class _Arguments(BaseModel):
    # as a task's fields: a value of the wrong type is refused, never guessed into another ("3" is not 3)
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Session = Annotated[SessionName, Field(description=_SESSION_TEXT)]
TaskId = Annotated[str, Field(description=_TASK_ID_TEXT)]
Limit = Annotated[int, AfterValidator(lambda v: check.positive_int(v, field="limit", maximum=MAX_LIST))]
_RANGE: dict[str, Any] = {"minimum": 1, "maximum": MAX_LIST}  # shown; the check is the validator's, in its words


class TaskRef(_Arguments):
    task_id: TaskId
    session: Session = "main"


class ListTasks(_Arguments):
    status: Literal["active", "paused", "ended", "all"] | None = Field(
        default=None, description="Which tasks: active, paused, ended or all; default active and paused."
    )
    session: Session = "main"


class TaskRuns(_Arguments):
    task_id: TaskId
    limit: Limit = Field(default=10, description="How many runs, newest first.", json_schema_extra=_RANGE)
    session: Session = "main"


class SendMessage(_Arguments):
    text: str = Field(description="The message, as a person would type it to the assistant.")
    session: Session = "main"


class EmitEvent(_Arguments):
    name: str = Field(description="The event's name: dotted words such as mail.received.")
    data: JsonValue = Field(default=None, description="Any JSON (at most 1 MiB) the runs it starts are given.")
    key: str | None = Field(default=None, description="Idempotency key: used again within 24 h, nothing starts.")
    session: SessionName | None = Field(
        default=None, description="Only this session's tasks; default every session's (as `inbox emit`)."
    )


class ReadOutbox(_Arguments):
    after: str | None = Field(default=None, description="Only what came after this outbox id (the last one read).")
    limit: Limit = Field(default=50, description="At most this many items.", json_schema_extra=_RANGE)
    session: Session = "main"


_EXTRA = {"task_id": (TaskId, Field()), "session": (Session, Field(default="main"))}
_SCHEDULED = tuple(name for name in NewTask.model_fields if name != "in_")  # at takes what in does
ScheduleTask = tool_model(NewTask, "ScheduleTask", _SCHEDULED, rename=_AS_ARGUMENT, extra={})
UpdateTask = tool_model(TaskChange, "UpdateTask", tuple(TaskChange.model_fields), rename=_AS_ARGUMENT, extra=_EXTRA)


class Effect(StrEnum):
    """What a tool does to the store, as MCP's tool annotations tell a client (which may ask before changes)."""

    READS = "reads"
    ADDS = "adds"  # only adds (a task, a message): "not destructive" in MCP's words
    CHANGES = "changes"  # changes or ends what is there


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[BaseModel]
    apply: Callable[[Inbox, dict[str, Any]], Any]
    effect: Effect

    @property
    def input_schema(self) -> dict[str, Any]:
        return arguments_schema(self.arguments)


def _task(inbox: Inbox, a: dict[str, Any]) -> MessageIn:
    with transaction(inbox.engine) as db:
        return find_in_session(db, a["task_id"], a["session"])


def _json(view: BaseModel) -> Any:
    return view.model_dump(mode="json")


def schedule_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    at, in_ = at_or_in(a["at"]) if "at" in a else (None, None)
    return _json(inbox.schedule(**{**a, "at": at, "in_": in_}))


def list_tasks(inbox: Inbox, a: dict[str, Any]) -> Any:
    wanted = [a["status"]] if "status" in a else ["active", "paused"]  # by default: what still has runs ahead
    return [_json(task) for status in wanted for task in inbox.tasks(status=status, session=a["session"])]


def get_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.get(_task(inbox, a).id))


def get_task_runs(inbox: Inbox, a: dict[str, Any]) -> Any:
    return [_json(run) for run in inbox.runs(_task(inbox, a).id, limit=a["limit"])]


def update_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    head = _task(inbox, a)
    change = {key: value for key, value in a.items() if key not in _EXTRA}
    if "at" in change:
        zone = inbox.zone(change["tz"]) if "tz" in change else ZoneInfo(head.timezone)
        change["at"] = at_instant(change["at"], now=inbox.clock(), zone=zone)
    return _json(inbox.update(head.id, **change))


def pause_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.pause(_task(inbox, a).id))


def resume_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.resume(_task(inbox, a).id))


def cancel_task(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.cancel(_task(inbox, a).id))


def run_task_now(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.run_now(_task(inbox, a).id))


def send_message(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.send(a["text"], session=a["session"]))


def emit_event(inbox: Inbox, a: dict[str, Any]) -> Any:
    return _json(inbox.emit(a["name"], a.get("data"), session=a.get("session"), key=a.get("key")))


def read_outbox(inbox: Inbox, a: dict[str, Any]) -> Any:
    return [_json(item) for item in inbox.outbox(session=a["session"], after=a.get("after"), limit=a["limit"])]


TOOLS: tuple[Tool, ...] = (
    Tool(
        "schedule_task",
        "Schedule work for the assistant: give prompt and exactly one of cron, every or at (with remind, the "
        "prompt itself is delivered at its time). Answers with the task's id and its next fire times.",
        ScheduleTask,
        schedule_task,
        Effect.ADDS,
    ),
    Tool(
        "list_tasks",
        "The tasks of a session, one per series, with status and next run.",
        ListTasks,
        list_tasks,
        Effect.READS,
    ),
    Tool("get_task", "One task in detail.", TaskRef, get_task, Effect.READS),
    Tool(
        "get_task_runs",
        "A task's recent runs, newest first, with outcome and error.",
        TaskRuns,
        get_task_runs,
        Effect.READS,
    ),
    Tool(
        "update_task",
        "Change a task's prompt, schedule (one of cron, every, at), timezone, script or name.",
        UpdateTask,
        update_task,
        Effect.CHANGES,
    ),
    Tool("pause_task", "Pause a task; a running occurrence finishes.", TaskRef, pause_task, Effect.CHANGES),
    Tool(
        "resume_task", "Resume a paused task; missed slots follow its catch_up.", TaskRef, resume_task, Effect.CHANGES
    ),
    Tool("cancel_task", "Cancel a task for good; its history stays.", TaskRef, cancel_task, Effect.CHANGES),
    Tool("run_task_now", "Run a task once now, without moving its schedule.", TaskRef, run_task_now, Effect.ADDS),
    Tool(
        "send_message",
        "Send the assistant a message in a session, as `inbox send` does; its answer arrives in the outbox.",
        SendMessage,
        send_message,
        Effect.ADDS,
    ),
    Tool(
        "emit_event",
        "Emit an event: every active task whose on pattern matches the name starts a run, given the data. "
        "Answers with the event's id and the tasks started (matched) or not, one already waiting (coalesced).",
        EmitEvent,
        emit_event,
        Effect.ADDS,
    ),
    Tool(
        "read_outbox",
        "What the assistant delivered in a session (answers, reminders), oldest first; pass the last id seen "
        "as after to read only what is new.",
        ReadOutbox,
        read_outbox,
        Effect.READS,
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


def call(inbox: Inbox, name: str, given: dict[str, Any]) -> Any:
    """Apply one tool call as ``inbox`` (which acts as ``mcp``); a refusal raises :class:`Refusal`.

    One transaction: the task is found and changed together, and a refusal rolls back whatever came before it.
    """
    tool = BY_NAME.get(name)
    if tool is None:
        raise Refusal(f"name: unknown tool {name!r}; the tools are: {', '.join(BY_NAME)}")
    try:
        args = checked_arguments(name, tool.arguments, given)
        with one_transaction(inbox.engine):
            return tool.apply(inbox, args)
    except InvalidInput as exc:
        raise Refusal(refusal(exc)) from None
    except NotFound as exc:
        session = given.get("session") or "main"
        raise Refusal(f"task_id: no task {exc.ident!r} in session {session!r}") from None
    except Conflict as exc:
        raise Refusal(f"task_id: {exc}") from None
