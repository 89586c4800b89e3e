"""The agent's scheduling tools, applied by the host: ``POST /runner/v1/tools`` (docs/agent-tools.md).

The model proposes; the host decides. A tool call arrives from a runner with the id of the row it is working on,
and the host applies it through the Python API with its own rules, whatever the model asked for:

* a runner acts only while it holds that row (its session's, leased to it): otherwise 403 or 409;
* tasks are created in the runner's session and carry ``created_by="agent:SESSION"`` (set here, never by the
  model), and only tasks of that session can be read or changed ("no task X in this conversation");
* arguments are checked against the schema the model was shown before anything is written;
* limits (``AgentLimits``): live series per session, the shortest interval of a recurring task, and no
  recurring task created by an unattended run unless the user allowed it for the session.

A refusal is an answer, not an HTTP error: ``ToolAnswer(ok=False, error="<field>: <reason>")`` with status 200,
so the model reads it and can act on it. Nothing is written then.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func
from sqlmodel import Session, col, select

from agent_runner.protocol import AGENT_PREFIX, MAX_NOTE, PREFIX, ToolAnswer, ToolRequest
from inbox import emitting
from inbox import validation as check
from inbox.api import Inbox
from inbox.channels import NO_CHANNEL
from inbox.enums import LIVE_STATUSES, Kind, OutboxKind
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.fire_times import preview
from inbox.http.errors import error_responses, token_first
from inbox.schedules import format_duration, load_zone, parse_cron, parse_every
from inbox.store import progress
from inbox.store.channels import session_channels
from inbox.store.claims import NotHeld, OtherSession, held_row
from inbox.store.endings import post_outbox
from inbox.store.engine import one_transaction, transaction
from inbox.store.lookup import find_in_session
from inbox.store.models import MessageIn
from inbox.tool_arguments import UnknownArgument, at_instant, at_or_in, checked_arguments, refusal
from inbox.views import Task
from sweeper.http.runner_auth import RunnerIdentity, runner_identity
from sweeper.http.state import HostState, host_state
from sweeper.http.tool_specs import ARGUMENTS, HOST_TOOLS

router = APIRouter(prefix=PREFIX, tags=["runner"], route_class=token_first(runner_identity))
Runner = Annotated[RunnerIdentity, Depends(runner_identity)]
Host = Annotated[HostState, Depends(host_state)]

SCHEMAS: dict[str, dict[str, Any]] = {tool.name: tool.parameters for tool in HOST_TOOLS}
TASK_FIELDS: tuple[str, ...] = ("series_id", "name", "status", "schedule", "timezone", "next_run_local")
TASK_FIELDS += ("last_outcome", "runs", "prompt", "tags", "priority", "active_hours")  # a task as the model sees it
SCHEDULED_FIELDS = ("id", "series_id", "name", "timezone", "schedule", "next_runs")
CRON_SAMPLE = 12  # fire times looked at to find a cron expression's shortest gap
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,)}
_LIVE = [s.value for s in LIVE_STATUSES]


@dataclass(frozen=True)
class Call:
    """One tool call: who asks, while working on which row, and the inbox that acts for its session."""

    host: HostState
    session: str
    unattended: bool  # the held row is a task run (or a webhook), not a person's chat line
    held: MessageIn
    inbox: Inbox


def _held_row(db: Session, runner: RunnerIdentity, message_id: str) -> MessageIn:
    try:
        return held_row(db, message_id, session=runner.session, owner=runner.owner, attempt=None)
    except (NotFound, OtherSession) as exc:
        raise HTTPException(403, f"message {message_id} is not a row of session {runner.session!r}") from exc
    except NotHeld as exc:
        raise HTTPException(
            409, f"message {message_id} is not held by this runner; tools act only during its work"
        ) from exc


def _arguments(tool: str, given: dict[str, Any]) -> dict[str, Any]:
    """The arguments checked against the schema the model was shown; ``null`` counts as not given.

    A tool with an argument model (a task's fields) is checked by it and answers the fields by their names
    (``tz`` for ``timezone``); the others by their schema.
    """
    schema = SCHEMAS[tool]
    properties: dict[str, dict[str, Any]] = schema["properties"]
    for key in given:
        if key not in properties:
            raise UnknownArgument(tool, key, list(properties))
    args = {key: value for key, value in given.items() if value is not None}
    if tool in ARGUMENTS:
        return checked_arguments(tool, ARGUMENTS[tool], args)
    for key in schema.get("required", []):
        if key not in args:
            raise InvalidInput(key, "is required")
    for key, value in args.items():
        rule = properties[key]
        if "type" not in rule:
            continue  # any JSON value (an event's data): checked by the tool itself
        kind = rule["type"]
        if not isinstance(value, _TYPES[kind]) or (isinstance(value, bool) and kind != "boolean"):
            raise InvalidInput(key, f"must be {'an' if kind == 'integer' else 'a'} {kind}, not {value!r}")
        if "enum" in rule and value not in rule["enum"]:
            raise InvalidInput(key, f"{value!r} is not one of {', '.join(rule['enum'])}")
        if "minimum" in rule and value < rule["minimum"]:
            raise InvalidInput(key, f"{value} is less than {rule['minimum']}")
        if "maximum" in rule and value > rule["maximum"]:
            raise InvalidInput(key, f"{value} is more than {rule['maximum']}")
    return args


def _own_task(call: Call, ident: str) -> MessageIn:
    """The current row of a task of this session; other sessions' tasks do not exist."""
    with transaction(call.host.inbox.engine) as db:
        return find_in_session(db, ident, call.session)


def _view(task: Task) -> dict[str, Any]:
    full = task.model_dump(mode="json")
    return {key: full[key] for key in TASK_FIELDS}


def _check_recurring(call: Call, zone: ZoneInfo, *, cron: str | None, every: str | None) -> None:
    """Limits on a recurring schedule an agent sets: unattended runs, and the shortest interval."""
    if cron is None and every is None:
        return
    field = "cron" if cron is not None else "every"
    limits = call.host.agent_limits
    interval = parse_every(every).interval if every is not None else None
    if cron is not None:
        parse_cron(cron)
    if call.unattended and call.session not in limits.unattended_recurring:
        raise InvalidInput(
            field,
            "a recurring task cannot be set from an unattended task run (this session is not in "
            "INBOX_AGENT_UNATTENDED_RECURRING); use a one-shot `at`, or ask the user in a chat",
        )
    if cron is not None:
        times = [t.astimezone(UTC) for t in preview(cron=cron, zone=zone, start=call.inbox.clock(), count=CRON_SAMPLE)]
        interval = min(later - earlier for earlier, later in itertools.pairwise(times))
    assert interval is not None
    if interval < limits.min_interval:
        raise InvalidInput(
            field,
            f"fires every {format_duration(interval)} at its most frequent; tasks set here may fire at most once "
            f"every {format_duration(limits.min_interval)} (INBOX_AGENT_MIN_INTERVAL)",
        )


def _check_listening(call: Call, on: list[str] | None) -> None:
    """A task started by events runs again and again, as a recurring one does: the same rule for unattended runs."""
    if on and call.unattended and call.session not in call.host.agent_limits.unattended_recurring:
        raise InvalidInput(
            "on",
            "a task started by events cannot be set from an unattended task run (this session is not in "
            "INBOX_AGENT_UNATTENDED_RECURRING); ask the user in a chat",
        )


def _check_room(call: Call) -> None:
    """At most ``max_live_tasks`` live series per session (one live chain row stands for each)."""
    limit = call.host.agent_limits.max_live_tasks
    query = select(func.count()).select_from(MessageIn)
    query = query.where(MessageIn.session == call.session, col(MessageIn.series_id).is_not(None))
    query = query.where(col(MessageIn.is_extra).is_(False), col(MessageIn.status).in_(_LIVE))
    with transaction(call.host.inbox.engine) as db:
        live = int(db.exec(query).one())
    if live >= limit:
        raise InvalidInput(
            "session",
            f"this conversation already has {live} live task(s), the most allowed (INBOX_AGENT_MAX_TASKS={limit}); "
            "cancel one that is no longer needed, or ask the user to raise INBOX_AGENT_MAX_TASKS",
        )


def _own_upstreams(call: Call, a: dict[str, Any]) -> None:
    """``after`` names tasks of this session only (others' do not exist here), replaced by their series ids. A
    task that runs after others runs again and again, as a recurring one does: the same rule for unattended runs."""
    if not a.get("after"):
        return
    if call.unattended and call.session not in call.host.agent_limits.unattended_recurring:
        raise InvalidInput(
            "after",
            "a task that runs after others cannot be set from an unattended task run (this session is not in "
            "INBOX_AGENT_UNATTENDED_RECURRING); ask the user in a chat",
        )
    found = []
    for ident in a["after"]:
        try:
            found.append(_own_task(call, ident).series_id)
        except NotFound as exc:
            raise InvalidInput("after", f"no task {exc.ident!r} in this conversation") from None
        except InvalidInput as exc:
            raise InvalidInput("after", exc.reason) from None
    a["after"] = found


def _check_deliver(call: Call, deliver: str | None) -> None:
    """Channels are the person's: the agent may keep a task's messages in the outbox (``none``), go back to its
    session's channel (``""``, on update) or name that channel, never another session's way to reach someone."""
    if deliver is None or deliver in ("", NO_CHANNEL):
        return
    with transaction(call.host.inbox.engine) as db:
        own = session_channels(db, [call.session]).get(call.session)
    if deliver != own:
        mine = f"its channel is {own!r}" if own else "it has no channel"
        raise InvalidInput(
            "deliver",
            f"{deliver!r} is not this conversation's channel ({mine}); give none for the outbox only, or leave it "
            "out; a person sets channels with `inbox session set`",
        )


def schedule_task(call: Call, a: dict[str, Any]) -> Any:
    zone = call.inbox.zone(a.get("tz"))
    _check_deliver(call, a.get("deliver"))
    _check_recurring(call, zone, cron=a.get("cron"), every=a.get("every"))
    _check_listening(call, a.get("on"))
    _own_upstreams(call, a)
    _check_room(call)
    at, in_ = at_or_in(a["at"]) if "at" in a else (None, None)
    made = call.inbox.schedule(**{**a, "at": at, "in_": in_, "session": call.session})
    echo = made.model_dump(mode="json")
    return {key: echo[key] for key in SCHEDULED_FIELDS}


def list_tasks(call: Call, a: dict[str, Any]) -> Any:
    wanted = [a["status"]] if "status" in a else ["active", "paused"]  # by default: what still has runs ahead
    return [_view(task) for status in wanted for task in call.inbox.tasks(status=status, session=call.session)]


def get_task(call: Call, a: dict[str, Any]) -> Any:
    return _view(call.inbox.get(_own_task(call, a["task_id"]).id))


def get_task_runs(call: Call, a: dict[str, Any]) -> Any:
    runs = call.inbox.runs(_own_task(call, a["task_id"]).id, limit=a.get("limit", 10))
    keep = ("attempt", "outcome", "started_at", "error")
    return [{key: value for key, value in run.model_dump(mode="json").items() if key in keep} for run in runs]


def update_task(call: Call, a: dict[str, Any]) -> Any:
    head = _own_task(call, a.pop("task_id"))
    _check_deliver(call, a.get("deliver"))
    zone = load_zone(a["tz"]) if "tz" in a else ZoneInfo(head.timezone)
    _check_recurring(call, zone, cron=a.get("cron"), every=a.get("every"))
    _check_listening(call, a.get("on"))
    _own_upstreams(call, a)
    if "at" in a:
        a["at"] = at_instant(a["at"], now=call.inbox.clock(), zone=zone)
    return _view(call.inbox.update(head.id, **a))


def pause_task(call: Call, a: dict[str, Any]) -> Any:
    return _view(call.inbox.pause(_own_task(call, a["task_id"]).id))


def resume_task(call: Call, a: dict[str, Any]) -> Any:
    return _view(call.inbox.resume(_own_task(call, a["task_id"]).id))


def cancel_task(call: Call, a: dict[str, Any]) -> Any:
    return _view(call.inbox.cancel(_own_task(call, a["task_id"]).id))


def run_task_now(call: Call, a: dict[str, Any]) -> Any:
    return {"id": call.inbox.run_now(_own_task(call, a["task_id"]).id).id}


def send_message(call: Call, a: dict[str, Any]) -> Any:
    text = check.text(a["text"], field="text")
    with transaction(call.host.inbox.engine) as db:
        now, held = call.inbox.clock(), call.held
        posted = post_outbox(
            db,
            session=call.session,
            kind=OutboxKind.REPLY,
            text=text,
            now=now,
            in_reply_to=held.id,
            series_id=held.series_id,
            deliver=held.deliver,
        )
        db.flush()
        return {"id": posted.id}


MAX_EVENT_DEPTH = 5  # events emitted by runs that events started, one from another: a loop ends here


def emit_event(call: Call, a: dict[str, Any]) -> Any:
    """An event for this session's tasks only: the agent cannot start another session's (``session`` is not an
    argument). A run an event started may emit, and so on, at most MAX_EVENT_DEPTH deep."""
    held_event = call.held.content.get("event")
    depth = int(held_event.get("depth", 0)) + 1 if isinstance(held_event, dict) else 0
    if depth > MAX_EVENT_DEPTH:
        raise InvalidInput(
            "name",
            f"this run was started by a chain of {depth} events, each emitted by a run the one before started; "
            f"an event is refused beyond {MAX_EVENT_DEPTH}, so a task that emits what it listens to cannot loop",
        )
    done = emitting.emit(
        call.host.inbox.engine,
        a["name"],
        a.get("data"),
        session=call.session,
        key=a.get("key"),
        clock=call.inbox.clock,
        actor=call.inbox.actor,
        depth=depth,
    )
    if done.matched:
        call.host.nudge.set()  # the started runs are due now: the loop looks at once
    return {key: value for key, value in done.model_dump(mode="json").items() if key != "session"}


def report_progress(call: Call, a: dict[str, Any]) -> Any:
    """The held run's latest progress (inbox.store.progress), in the transaction that checked its lease."""
    note = str(a.get("note", ""))
    if len(note) > MAX_NOTE:
        raise InvalidInput("note", f"at most {MAX_NOTE} characters")
    progress.record(call.held, fraction=float(a["fraction"]), note=note, now=call.inbox.clock())
    return {"recorded": True}


_ALL = [schedule_task, list_tasks, get_task, get_task_runs, update_task, pause_task, resume_task, cancel_task]
_ACTIONS = [run_task_now, send_message, emit_event, report_progress]
TOOLS: dict[str, Callable[[Call, dict[str, Any]], Any]] = {t.__name__: t for t in [*_ALL, *_ACTIONS]}
assert set(TOOLS) == set(SCHEMAS), "every tool the model is shown is applied here"


@router.post("/tools", response_model=ToolAnswer, responses=error_responses(409))
def call_tool(body: ToolRequest, runner: Runner, host: Host) -> ToolAnswer:
    """Apply one tool call of the model; a refusal comes back as ``ok: false`` with the reason."""
    actor = f"{AGENT_PREFIX}{runner.session}"
    inbox = Inbox(
        host.inbox.url, env=host.inbox.settings.env, actor=actor, clock=host.inbox.clock, engine=host.inbox.engine
    )
    try:
        # The lease is checked, its row locked, and the tool applied in one transaction: a lease taken back
        # meanwhile either waits for the tool's writes or is seen here first. A refusal rolls back everything.
        with one_transaction(host.inbox.engine) as db:
            held = _held_row(db, runner, body.message_id)
            call = Call(host=host, session=runner.session, unattended=held.kind != Kind.CHAT, held=held, inbox=inbox)
            tool = TOOLS.get(body.name)
            if tool is None:
                raise InvalidInput("name", f"unknown tool {body.name!r}; the tools are: {', '.join(TOOLS)}")
            return ToolAnswer(ok=True, result=tool(call, _arguments(body.name, body.arguments)))
    except InvalidInput as exc:
        return ToolAnswer(ok=False, error=refusal(exc))
    except NotFound as exc:
        return ToolAnswer(ok=False, error=f"task_id: no task {exc.ident!r} in this conversation")
    except Conflict as exc:
        return ToolAnswer(ok=False, error=f"task_id: {exc}")
