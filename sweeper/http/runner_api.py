"""The runners' endpoints: claim, heartbeat, report, and ask the model (through the host's credentials).

A runner token stands for one session and one lease owner (inbox.http.auth). A runner sees only its session's
rows, renews only its own leases, and its result is accepted only while its lease holds: a runner whose row was
taken back (its lease expired and the row was retried) cannot write a late result over the retry. Model calls,
too, are made only for an attempt the runner holds, and the host counts their tokens (sweeper.results).

The routes authenticate and translate; what a result or model call does is sweeper.results'.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from agent_runner.conversation import ModelReply, ProviderError
from agent_runner.protocol import (
    PREFIX,
    ClaimReply,
    ClaimRequest,
    EventInfo,
    Heartbeat,
    HeartbeatReply,
    HttpAnswer,
    HttpCall,
    ModelFailure,
    ModelRequest,
    Progress,
    ResultReply,
    RunResult,
    WorkItem,
)
from inbox.defaults import CLAIM_AHEAD
from inbox.errors import NotFound
from inbox.http.errors import error_responses, token_first
from inbox.store import progress
from inbox.store.claims import NotHeld, OtherSession, claim_due, held_row, renew
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import MessageIn
from inbox.store.series_state import states_of
from inbox.store.types import utcnow
from inbox.views import describe_schedule
from sweeper.http.history_api import history_of
from sweeper.http.requests_held import RunnerGone
from sweeper.http.runner_auth import RunnerIdentity, runner_identity
from sweeper.http.state import HostState, host_state
from sweeper.http.tool_specs import HOST_TOOLS
from sweeper.meter import AttemptClosed
from sweeper.results import ask_model, record_result

router = APIRouter(prefix=PREFIX, tags=["runner"], route_class=token_first(runner_identity))
Runner = Annotated[RunnerIdentity, Depends(runner_identity)]
Host = Annotated[HostState, Depends(host_state)]


def _has_schedule(row: MessageIn) -> bool:
    """Whether the row belongs to a task that something starts again (a time, events, upstream tasks)."""
    return bool(row.recurrence or row.occurrence_at or row.content.get("on") or row.content.get("after"))


def work_item(row: MessageIn, *, state: Any = None, early: bool = False) -> WorkItem:
    """What a runner is given to do ``row``; ``state``: its series' kept pre-script state; ``early``: claimed before
    its due time (the runner asks /start at that time before doing anything)."""
    event = row.content.get("event")
    do = row.do
    return WorkItem(
        id=row.id,
        session=row.session,
        kind=row.kind,
        text=row.text,
        script=row.script,
        data=row.content.get("data"),
        remind=row.remind,
        name=row.name,
        series_id=row.series_id,
        schedule=describe_schedule(row) if _has_schedule(row) else None,
        timezone=row.timezone,
        occurrence_at=row.occurrence_at,
        process_after=row.process_after,
        attempt=row.tries + 1,
        timeout_s=row.timeout_s,
        created_by=row.kind_author,  # what the runner judges a command's reach by: who wrote it
        script_by=row.script_author if row.script else None,
        model=row.content.get("model"),
        provider=row.content.get("provider"),
        tools=list(HOST_TOOLS) if do == "agent" else [],
        do=do,
        input=row.content.get("with"),
        event=EventInfo(id=event["id"], name=event["name"], data=event.get("data"), session=event.get("session"))
        if isinstance(event, dict)
        else None,
        state=state,
        early=early,
    )


def _claim(host: HostState, runner: RunnerIdentity, limit: int) -> list[WorkItem]:
    with transaction(host.inbox.engine) as db:
        now = utcnow()
        rows = claim_due(
            db,
            owner=runner.owner,
            now=now,
            clock=utcnow,
            session=runner.session,
            limit=limit,
            lease=host.lease,
            work="runner",
            ahead=CLAIM_AHEAD,
        )
        states = states_of(db, [row.series_id for row in rows if row.series_id and row.script])
        items = [work_item(row, state=states.get(row.series_id or ""), early=row.process_after > now) for row in rows]
    # An agent run without a pre-script asks the model first thing: its history comes with the claim, read after
    # the claim's commit (no write lock held for it), which saves the runner a round trip before the model. For one
    # claimed early the start gate checks that it is still the whole conversation (sweeper.http.start_gate).
    starts_model = [i for i, item in enumerate(items) if item.starts_with_model]
    if starts_model:
        budget = host.agent_limits.history_tokens
        with read_transaction(host.inbox.engine) as db:
            for i in starts_model:
                items[i] = items[i].model_copy(update={"history": history_of(db, rows[i], budget_tokens=budget)})
    return items


@router.post("/claim", response_model=ClaimReply)
async def claim(body: ClaimRequest, runner: Runner, host: Host) -> ClaimReply:
    """Due rows of the runner's session, leased to it; waits up to ``wait_s`` for the session's bell if none.

    The claim itself runs in a worker thread (the store is synchronous); the wait holds no thread.
    """
    deadline = time.monotonic() + body.wait_s
    while True:
        # The count before the draining check: the shutdown drains, then rings. A count read after that ring is
        # read after the draining too, and one read before it sees the ring in its wait. The other order could
        # count the shutdown's ring and then wait its whole poll for another.
        rung = host.doorbells.count(runner.session)
        if host.draining.is_set():
            return ClaimReply(lease_s=host.lease.total_seconds(), items=[])
        items = await run_in_threadpool(_claim, host, runner, body.limit)
        left = deadline - time.monotonic()
        if items or left <= 0 or not await host.doorbells.wait(runner.session, seen=rung, timeout_s=left):
            return ClaimReply(lease_s=host.lease.total_seconds(), items=items)


@router.post("/heartbeat", response_model=HeartbeatReply)
def heartbeat(body: Heartbeat, runner: Runner, host: Host) -> HeartbeatReply:
    lost = []
    with transaction(host.inbox.engine) as db:
        now = utcnow()
        for message_id, attempt in body.leases.items():
            if not renew(db, message_id, owner=runner.owner, now=now, lease=host.lease, attempt=attempt):
                lost.append(message_id)
    return HeartbeatReply(lost=lost)


@contextmanager
def lease_refusals() -> Iterator[None]:
    """The store's and meter's refusals of a runner that does not hold a row, as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, f"no message {exc.ident!r}") from exc
    except OtherSession as exc:
        raise HTTPException(403, str(exc)) from exc
    except (NotHeld, AttemptClosed, RunnerGone) as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/results", response_model=ResultReply, responses=error_responses(404, 409))
def report_result(result: RunResult, runner: Runner, host: Host) -> ResultReply:
    """Record an attempt's outcome (sweeper.results.record_result); 409 once the lease is lost."""
    with lease_refusals():
        return record_result(
            host.inbox.engine,
            host.meter,
            result,
            session=runner.session,
            owner=runner.owner,
            backoff=host.backoff,
            daily_series_tokens=host.agent_limits.daily_series_tokens,
        )


class _Unconfigured:
    def complete(self, request: ModelRequest) -> ModelReply:
        raise ProviderError(
            "no model provider configured on this host: set INBOX_PROVIDER, INBOX_MODEL and the provider's key",
            kind="bad_request",
        )


@router.post("/model", response_model=ModelReply, responses={502: {"model": ModelFailure}, **error_responses(404, 409)})
def model_call(request: ModelRequest, runner: Runner, host: Host) -> ModelReply | JSONResponse:
    """One model turn for a held attempt, sent by the host with its own credentials and counted by it
    (sweeper.results.ask_model); a provider error comes back classified, a lease not held is 409."""
    model = host.model or _Unconfigured()
    try:
        with lease_refusals():
            return ask_model(host.inbox.engine, model, host.meter, request, session=runner.session, owner=runner.owner)
    except ProviderError as exc:
        failure = ModelFailure(
            kind=exc.kind,
            message=exc.message,
            transient=exc.transient,
            status=exc.status,
            retry_after_s=exc.retry_after_s,
        )
        return JSONResponse(failure.model_dump(mode="json"), status_code=502)


def _held_task(host: HostState, runner: RunnerIdentity, message_id: str, attempt: int) -> MessageIn:
    with transaction(host.inbox.engine) as db:
        row = held_row(db, message_id, session=runner.session, owner=runner.owner, attempt=attempt, lock=False)
        db.expunge(row)
        return row


@router.post("/http", response_model=HttpAnswer, responses=error_responses(404, 409))
def http_call(call: HttpCall, runner: Runner, host: Host) -> HttpAnswer:
    """An ``http`` task's request for an attempt the runner holds, as the task stored it (sweeper.http_work). The
    lease is checked once the request is counted: a runner that dies meanwhile has its rows handed back only after
    the request ends (sweeper.http.requests_held)."""
    with lease_refusals(), host.http_held.making(runner.owner):
        row = _held_task(host, runner, call.message_id, call.attempt)
        return host.http.run(row)


@router.post("/progress", status_code=204, responses=error_responses(404, 409))
def report_progress(report: Progress, runner: Runner, host: Host) -> None:
    """Keep how far a held attempt has come (inbox.store.progress)."""
    with lease_refusals(), transaction(host.inbox.engine) as db:
        row = held_row(db, report.message_id, session=runner.session, owner=runner.owner, attempt=report.attempt)
        progress.record(row, fraction=report.fraction, note=report.note, now=utcnow())
