"""The host's tools as the model sees them (name, description, JSON schema of the arguments).

The host applies them (``POST /runner/v1/tools``, :mod:`sweeper.http.agent_tools`) and offers them to the model
through each claimed item (``WorkItem.tools``), so a runner never holds its own copy of what the host accepts.
"""

from __future__ import annotations

from typing import Any

from agent_runner.conversation import ToolSpec

_TASK_ID = {"task_id": {"type": "string", "description": "The task's series id, any occurrence id, or its name."}}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


_SCHEDULE_FIELDS: dict[str, Any] = {
    "prompt": {"type": "string", "description": "What to do (or, with remind, the text to deliver)."},
    "cron": {"type": "string", "description": "5-field cron or @daily/@hourly/..., in the task's time zone."},
    "every": {"type": "string", "description": "An interval such as 30m, 2h, 1d or 1h30m."},
    "at": {"type": "string", "description": "One run: ISO 8601 (naive = the task's zone) or a duration from now (2h)."},
    "timezone": {"type": "string", "description": "IANA zone, e.g. Europe/London; default the user's zone."},
    "name": {"type": "string"},
    "script": {"type": "string", "description": "A pre-script deciding whether the model is woken (see docs)."},
    "context": {"type": "string", "enum": ["session", "series", "fresh"]},
    "catch_up": {"type": "string", "enum": ["once", "skip", "all"]},
    "max_runs": {"type": "integer", "minimum": 1},
    "remind": {"type": "boolean", "description": "Deliver the prompt text itself at the time; no model call."},
}

HOST_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="schedule_task",
        description="Schedule work for later: give prompt and exactly one of cron, every or at. Answers with the "
        "task's id and its next three fire times in its zone.",
        parameters=_obj(_SCHEDULE_FIELDS, ["prompt"]),
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
        description="Change a task's prompt, schedule (one of cron, every, at), timezone, script or name.",
        parameters=_obj(
            {
                **_TASK_ID,
                **{k: _SCHEDULE_FIELDS[k] for k in ("prompt", "cron", "every", "at", "timezone", "script", "name")},
            },
            ["task_id"],
        ),
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
        name="send_message",
        description="Send a message to the user now (besides your final answer).",
        parameters=_obj({"text": {"type": "string"}}, ["text"]),
    ),
)
