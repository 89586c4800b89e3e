"""The host's tools as the model sees them (name, description, JSON schema of the arguments).

The host applies them (``POST /runner/v1/tools``, :mod:`sweeper.http.agent_tools`) and offers them to the model
through each claimed item (``WorkItem.tools``), so a runner never holds its own copy of what the host accepts.

``schedule_task`` and ``update_task`` take the fields of :class:`inbox.task_fields.NewTask` and ``TaskChange``,
the models the HTTP API and the Python API take: their argument models (:data:`ARGUMENTS`) are derived from those,
and the schemas shown are those models' JSON schemas, descriptions included.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent_runner.conversation import ToolSpec
from inbox.task_fields import NewTask, TaskChange, tool_model
from inbox.tool_arguments import arguments_schema as shown_schema_of

_TASK_ID_TEXT = "The task's series id, any occurrence id, or its name."
_TASK_ID = {"task_id": {"type": "string", "description": _TASK_ID_TEXT}}
# the API's field -> the tool's argument ("at" also takes what the API's "in" does)
_AS_TOOL = {"tz": "timezone", "with_": "with"}

# What both tools take: the trigger, the schedule and how a run goes. "name" and "deliver" are in both too; the
# order is the one the model reads them in.
_WHEN_AND_WHAT = ("prompt", "cron", "every", "at", "on", "after", "when", "tz")
_SCHEDULE_FIELDS: tuple[str, ...] = (
    *_WHEN_AND_WHAT,
    "name",
    "script",
    "context",
    "catch_up",
    "max_runs",
    "remind",
    "deliver",
)
_UPDATE_FIELDS: tuple[str, ...] = (
    *_WHEN_AND_WHAT,
    "script",
    "name",
    "deliver",
)  # deliver: none, or its session's own channel
_LATER_FIELDS = ("tags", "priority", "active_hours", "do", "with_")  # an http or command task is checked by author
_SCHEDULE_FIELDS += _LATER_FIELDS
_UPDATE_FIELDS += _LATER_FIELDS  # an agent re-pointing a task (do, with) is checked as when it makes one
ARGUMENTS: dict[str, type[BaseModel]] = {
    "schedule_task": tool_model(
        NewTask,
        "ScheduleTaskArguments",
        _SCHEDULE_FIELDS,
        rename=_AS_TOOL,
        extra={},
    ),
    "update_task": tool_model(
        TaskChange,
        "UpdateTaskArguments",
        _UPDATE_FIELDS,
        rename=_AS_TOOL,
        extra={"task_id": (str, Field(description=_TASK_ID_TEXT))},
    ),
}


def arguments_schema(tool: str) -> dict[str, Any]:
    return shown_schema_of(ARGUMENTS[tool])


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


HOST_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="schedule_task",
        description="Schedule work for later: give prompt and exactly one of cron, every or at; or on (event "
        "patterns), alone or with cron or every. Answers with the task's id and its next three fire times in its zone.",
        parameters=arguments_schema("schedule_task"),
    ),
    ToolSpec(
        name="list_tasks",
        description="The tasks of this conversation, one per series, with status and next run.",
        parameters=_obj({"status": {"type": "string", "enum": ["active", "paused", "ended", "all"]}}),
    ),
    ToolSpec(name="get_task", description="One task in detail.", parameters=_obj(_TASK_ID, ["task_id"])),
    ToolSpec(
        name="get_task_runs",
        description="A task's recent runs, newest first, with outcome and error.",
        parameters=_obj({**_TASK_ID, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}, ["task_id"]),
    ),
    ToolSpec(
        name="update_task",
        description="Change a task's prompt, schedule (one of cron, every, at), event patterns (on), timezone, "
        "script, name or channel (deliver).",
        parameters=arguments_schema("update_task"),
    ),
    ToolSpec(name="pause_task", description="Pause a task.", parameters=_obj(_TASK_ID, ["task_id"])),
    ToolSpec(name="resume_task", description="Resume a paused task.", parameters=_obj(_TASK_ID, ["task_id"])),
    ToolSpec(name="cancel_task", description="Cancel a task for good.", parameters=_obj(_TASK_ID, ["task_id"])),
    ToolSpec(
        name="run_task_now",
        description="Run a task once now, without moving its schedule.",
        parameters=_obj(_TASK_ID, ["task_id"]),
    ),
    ToolSpec(
        name="emit_event",
        description="Emit an event in this conversation: every active task of it whose `on` pattern matches the "
        "name starts a run, given the data. Answers with the event's id and the tasks started (matched) or not "
        "started because one was already waiting (coalesced).",
        parameters=_obj(
            {
                "name": {"type": "string", "description": "Dotted words, e.g. report.ready."},
                "data": {"description": "Any JSON the started runs are given (at most 1 MiB)."},
                "key": {"type": "string", "description": "Idempotency key: emitted again within 24 h, nothing starts."},
            },
            ["name"],
        ),
    ),
    ToolSpec(
        name="report_progress",
        description="Say how far this run has come, for the user watching it (inbox show, the dashboard); the "
        "latest report is kept.",
        parameters=_obj(
            {
                "fraction": {"type": "number", "minimum": 0, "maximum": 1, "description": "Done so far, 0 to 1."},
                "note": {"type": "string", "description": "A few words on what is being done."},
            },
            ["fraction"],
        ),
    ),
    ToolSpec(
        name="send_message",
        description="Send a message to the user now (besides your final answer).",
        parameters=_obj({"text": {"type": "string"}}, ["text"]),
    ),
)
