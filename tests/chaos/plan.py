"""What a chaos run schedules: a seeded mix of one-shots, interval series and cron series.

Every task carries a tag in its prompt; the fake model answers each call with that tag, so a completed run
can be checked against the answer its own task should have got (nothing silently completed, nothing crossed).
Some tasks carry a pre-script that wakes the model, one that says ``wakeAgent: false`` or one that fails; some
are reminders. Part of the tasks is scheduled before the kills start, the rest while they go on.

A series with no ``max_runs`` either runs on every minute (a cron series, live at the end) or is cancelled
before the run settles (an interval series), so the run has an end at which nothing more is due.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from agent_runner.agent import SUMMARY_PROMPT
from inbox import Inbox
from inbox.enums import Outcome
from inbox.fire_times import preview
from scripts.fake_provider.server import RecordedRequest, Scripted, ScriptedReply

MAX_MODEL_DELAY_S = 0.5  # a model call lasts up to this long, so kills land mid-call too
MAX_EVERY_RUNS = 8  # below the 10 failed occurrences in a row that pause a series
WAKE_DATA = {"checked": True, "items": 3}
UTC_ZONE = ZoneInfo("UTC")


class Shape(StrEnum):
    ONE_SHOT = "one-shot"
    EVERY = "every"
    CRON = "cron"
    ON = "on"  # started by events only (tests/chaos/events.py)


class Gate(StrEnum):
    """The task's pre-script: none, or one that wakes the model, skips the run, or fails."""

    NONE = "none"
    WAKE = "wake"
    SKIP = "skip"
    FAIL = "fail"


_WAKE_JSON = json.dumps({"wakeAgent": True, "data": WAKE_DATA})
SCRIPTS: dict[Gate, tuple[str, ...]] = {
    Gate.WAKE: (f"echo '{_WAKE_JSON}'", f"sleep 0.4; echo 'looked'; echo '{_WAKE_JSON}'"),
    Gate.SKIP: ("echo '{\"wakeAgent\": false}'", "sleep 0.4; echo 'nothing new'; echo '{\"wakeAgent\": false}'"),
    Gate.FAIL: ("echo oops >&2; exit 3", "echo 'not json'", 'echo \'{"wakeAgent": "yes"}\''),
}
EXPECTED: dict[Gate, Outcome] = {
    Gate.NONE: Outcome.COMPLETED,
    Gate.WAKE: Outcome.COMPLETED,
    Gate.SKIP: Outcome.SKIPPED,
    Gate.FAIL: Outcome.SCRIPT_ERROR,
}


@dataclass(frozen=True)
class TaskPlan:
    tag: str
    shape: Shape
    session: str
    create_at_s: float  # seconds into the chaos window at which it is scheduled
    gate: Gate
    script: str | None
    remind: bool
    retries: int
    catch_up: str
    context: str | None
    interval_s: int | None = None  # every
    cron: str | None = None
    at_s: float | None = None  # one-shot: seconds after it is scheduled
    wanted_runs: int | None = None  # None: no end (cron: stays live; every: cancelled)
    cancel_at_s: float | None = None
    pause_at_s: float | None = None  # paused this far into the window, resumed at resume_at_s
    resume_at_s: float | None = None
    run_now_at_s: float | None = None
    on: tuple[str, ...] = ()  # event patterns (tests/chaos/events.py)

    @property
    def prompt(self) -> str:
        return f"[chaos {self.tag}] {self.shape} task; reply briefly"

    @property
    def expected(self) -> Outcome:
        return EXPECTED[self.gate]


@dataclass(frozen=True)
class ScheduledTask:
    plan: TaskPlan
    series_id: str
    created_at: datetime
    first_slot: datetime
    max_runs: int | None  # the effective limit (the wanted runs that fit in the window)

    @property
    def endless(self) -> bool:
        return self.plan.shape != Shape.ONE_SHOT and self.max_runs is None


def answer_for(tag: str) -> str:
    return f"done {tag}"


def reminder_text(task: TaskPlan) -> str:
    """What a completed reminder delivers: its text, and the data of a script that woke it."""
    if task.gate == Gate.WAKE:
        return task.prompt + "\n" + json.dumps(WAKE_DATA, ensure_ascii=False, default=str)
    return task.prompt


_TAG = re.compile(r"\[chaos (\w+)\]")


def model_reply(request: RecordedRequest) -> Scripted:
    """The fake model: answers a task with its own tag (and a summary request with a summary), a little late."""
    messages = (request.json or {}).get("messages") or []
    system = str(messages[0].get("content", "")) if messages and messages[0].get("role") == "system" else ""
    if system.startswith(SUMMARY_PROMPT):
        return ScriptedReply("summary of earlier runs", delay_s=random.uniform(0, MAX_MODEL_DELAY_S))
    found = _TAG.search(str(messages[-1].get("content", ""))) if messages else None
    text = answer_for(found.group(1)) if found else "a call with no task tag"
    return ScriptedReply(text, delay_s=random.uniform(0, MAX_MODEL_DELAY_S))


def _gate(rng: random.Random) -> Gate:
    return rng.choices([Gate.NONE, Gate.WAKE, Gate.SKIP, Gate.FAIL], weights=[40, 30, 15, 15])[0]


def make_plan(count: int, window_s: float, *, seed: int, sessions: int = 6) -> list[TaskPlan]:
    """``count`` tasks over a chaos window of ``window_s`` seconds; the same seed gives the same plan."""
    rng = random.Random(seed)
    plans = []
    for index in range(count):
        shape = rng.choices([Shape.ONE_SHOT, Shape.EVERY, Shape.CRON], weights=[35, 40, 25])[0]
        gate = _gate(rng)
        create_at = 0.0 if rng.random() < 0.5 else round(rng.uniform(0, window_s * 0.6), 1)
        interval = rng.choice([2, 3, 4, 5]) if shape == Shape.EVERY else None
        cron = None
        if shape == Shape.CRON:
            cron = "*/2 * * * *" if window_s >= 240 and rng.random() < 0.3 else "* * * * *"
        wanted, cancel, pause, resume = None, None, None, None
        if shape == Shape.EVERY:
            if rng.random() < 0.2:  # an endless interval series, cancelled while the kills go on
                cancel = round(rng.uniform(create_at + 2, window_s), 1)
                if rng.random() < 0.5:  # and paused for a while before that
                    pause = round(rng.uniform(create_at, cancel), 1)
                    resume = round(rng.uniform(pause, cancel), 1)
            else:
                wanted = rng.randint(1, MAX_EVERY_RUNS)
        elif shape == Shape.CRON and rng.random() < 0.6:
            wanted = rng.randint(1, 5)
        recurring = shape != Shape.ONE_SHOT
        plans.append(
            TaskPlan(
                tag=f"t{index:04d}",
                shape=shape,
                session=f"chaos-{rng.randrange(sessions)}",
                create_at_s=create_at,
                gate=gate,
                script=rng.choice(SCRIPTS[gate]) if gate != Gate.NONE else None,
                remind=rng.random() < 0.3,
                retries=rng.choice([1, 3, 6]),
                catch_up=rng.choices(["once", "skip", "all"], weights=[60, 20, 20])[0],
                context=rng.choice([None, "fresh", "series" if recurring else "session"]),
                interval_s=interval,
                cron=cron,
                at_s=None if recurring else round(rng.uniform(1.0, max(1.5, window_s - create_at)), 2),
                wanted_runs=wanted,
                cancel_at_s=cancel,
                pause_at_s=pause,
                resume_at_s=resume,
                run_now_at_s=round(rng.uniform(create_at, window_s), 1) if recurring and rng.random() < 0.1 else None,
            )
        )
    return plans


def schedule(inbox: Inbox, task: TaskPlan, *, window_end: datetime) -> ScheduledTask:
    """Schedule ``task`` now; a wanted run count is cut to the slots that fall before the window ends."""
    now = inbox.clock()
    every = f"{task.interval_s}s" if task.interval_s else None
    at = now + timedelta(seconds=task.at_s) if task.at_s is not None else None
    max_runs = None
    if task.wanted_runs is not None:
        slots = preview(cron=task.cron, every=every, zone=UTC_ZONE, start=now, count=task.wanted_runs)
        max_runs = max(1, sum(slot <= window_end for slot in slots))
    made = inbox.schedule(
        task.prompt,
        at=at.isoformat() if at else None,
        every=every,
        cron=task.cron,
        max_runs=max_runs,
        session=task.session,
        script=task.script,
        remind=task.remind,
        retries=task.retries,
        catch_up=task.catch_up,
        context=task.context,
        name=f"chaos-{task.tag}",
        on=list(task.on) or None,
    )
    # A task only events start has no first slot; nothing of its series is checked against one.
    return ScheduledTask(task, made.series_id, now, made.next_runs[0] if made.next_runs else now, max_runs)
