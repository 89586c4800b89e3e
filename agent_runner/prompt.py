"""What the model is shown for one piece of work: who it is, the time where the task lives, and the task.

The current time and the occurrence's slot are given in the task's own zone with their offset, so "compare with
yesterday" and "this morning" mean what the person who scheduled the task meant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent_runner.protocol import WorkItem

# A reply that is exactly this delivers nothing and is recorded ``silent`` (docs/agent.md).
SILENCE = "NO_REPLY"
DATA_CHARS = 20_000


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%A %Y-%m-%d %H:%M:%S %Z (UTC%z)")


def system_prompt(item: WorkItem, now: datetime) -> str:
    zone = ZoneInfo(item.timezone)
    lines = [
        "You are a personal assistant running on the user's own machine. Your reply is delivered to the user.",
        f"Current time: {_local(now, zone)}, time zone {item.timezone}.",
    ]
    if item.kind == "task" or item.series_id:
        what = f"the scheduled task {item.name!r}" if item.name else "a scheduled task"
        lines.append(f"You are running {what} ({item.schedule or 'one-shot'}).")
        if item.occurrence_at is not None:
            lines.append(f"This run stands for the slot {_local(item.occurrence_at, zone)}.")
        if item.event is not None:
            lines.append(f"This run was started by the event {item.event.name!r} (its data is below the task).")
        if isinstance(item.data, dict) and "upstream" in item.data:
            lines.append(
                "This run was started by the tasks it runs after: their outcomes and replies are in the "
                "data's `upstream` (below the task)."
            )
        if item.attempt > 1:
            lines.append(f"This is attempt {item.attempt}; earlier attempts failed.")
    lines.append(f"If there is nothing worth telling the user, reply with exactly {SILENCE} and nothing else.")
    return "\n".join(lines)


def user_text(item: WorkItem, script_data: Any, *, has_script_data: bool) -> str:
    parts = [item.text]
    if item.data is not None:
        parts.append("Data attached to this message:\n" + _as_json(item.data))
    if item.event is not None:
        parts.append(f"Event {item.event.name} ({item.event.id}), its data:\n" + _as_json(item.event.data))
    if has_script_data:
        parts.append("Data from the task's pre-script:\n" + _as_json(script_data))
    return "\n\n".join(parts)


def _as_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return text if len(text) <= DATA_CHARS else text[:DATA_CHARS] + "\n… (cut)"
