"""The runners' endpoints: claim, heartbeat, report, and ask the model (through the host's credentials).

A runner token stands for one session and one lease owner (inbox.http.auth). A runner sees only its session's
rows, renews only its own leases, and its result is accepted only while its lease holds: a runner whose row was
taken back (its lease expired and the row was retried) cannot write a late result over the retry.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from agent_runner.conversation import ModelReply, ProviderError
from agent_runner.protocol import (
    PREFIX,
    ClaimReply,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    ModelFailure,
    ModelRequest,
    ResultReply,
    RunResult,
    WorkItem,
)
from inbox.enums import OutboxKind, Outcome
from inbox.http.errors import error_responses, token_first
from inbox.store import budget
from inbox.store.claims import claim_due, fail_attempt, holds, renew
from inbox.store.endings import RunReport, end_occurrence, post_outbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from inbox.views import describe_schedule
from sweeper.http.history_api import record_exchange
from sweeper.http.runner_auth import RunnerIdentity, runner_identity
from sweeper.http.state import HostState, host_state
from sweeper.http.tool_specs import HOST_TOOLS

AGENT_PREFIX = "agent:"  # created_by of rows an agent session wrote (see the agent tools)

router = APIRouter(prefix=PREFIX, tags=["runner"], route_class=token_first(runner_identity))
Runner = Annotated[RunnerIdentity, Depends(runner_identity)]
Host = Annotated[HostState, Depends(host_state)]


def work_item(row: MessageIn) -> WorkItem:
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
        schedule=describe_schedule(row) if row.recurrence or row.occurrence_at else None,
        timezone=row.timezone,
        occurrence_at=row.occurrence_at,
        process_after=row.process_after,
        attempt=row.tries + 1,
        timeout_s=row.timeout_s,
        created_by=row.created_by,
        agent_written=row.created_by.startswith(AGENT_PREFIX),
        model=row.content.get("model"),
        provider=row.content.get("provider"),
        tools=[] if row.remind else list(HOST_TOOLS),
    )


def _claim(host: HostState, runner: RunnerIdentity, limit: int) -> list[WorkItem]:
    with transaction(host.inbox.engine) as db:
        rows = claim_due(
            db, owner=runner.owner, now=utcnow(), clock=utcnow, session=runner.session, limit=limit, lease=host.lease
        )
        return [work_item(row) for row in rows]


@router.post("/claim", response_model=ClaimReply)
async def claim(body: ClaimRequest, runner: Runner, host: Host) -> ClaimReply:
    """Due rows of the runner's session, leased to it; waits up to ``wait_s`` for the session's bell if none.

    The claim itself runs in a worker thread (the store is synchronous); the wait holds no thread.
    """
    deadline = time.monotonic() + body.wait_s
    while not host.draining.is_set():
        rung = host.doorbells.count(runner.session)
        items = await run_in_threadpool(_claim, host, runner, body.limit)
        left = deadline - time.monotonic()
        if items or left <= 0 or not await host.doorbells.wait(runner.session, seen=rung, timeout_s=left):
            return ClaimReply(lease_s=host.lease.total_seconds(), items=items)
    return ClaimReply(lease_s=host.lease.total_seconds(), items=[])


@router.post("/heartbeat", response_model=HeartbeatReply)
def heartbeat(body: Heartbeat, runner: Runner, host: Host) -> HeartbeatReply:
    lost = []
    with transaction(host.inbox.engine) as db:
        now = utcnow()
        for message_id, attempt in body.leases.items():
            if not renew(db, message_id, owner=runner.owner, now=now, lease=host.lease, attempt=attempt):
                lost.append(message_id)
    return HeartbeatReply(lost=lost)


def _held_row(db: Session, message_id: str, runner: RunnerIdentity, attempt: int) -> MessageIn:
    row = db.exec(select(MessageIn).where(MessageIn.id == message_id).with_for_update()).first()
    if row is None:
        raise HTTPException(404, f"no message {message_id!r}")
    if row.session != runner.session:
        raise HTTPException(
            403, f"message {message_id} belongs to another session; this runner serves {runner.session!r}"
        )
    if not holds(row, runner.owner, attempt):
        raise HTTPException(409, f"lease lost: message {message_id} attempt {attempt} is no longer this runner's")
    return row


def _report(result: RunResult, runner: RunnerIdentity) -> RunReport:
    return RunReport(
        outcome=Outcome(result.outcome),
        started_at=result.started_at,
        error=result.error,
        script_output=result.script_output,
        model_output=result.model_output,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        runner=runner.owner,
    )


@router.post("/results", response_model=ResultReply, responses=error_responses(404, 409))
def report_result(result: RunResult, runner: Runner, host: Host) -> ResultReply:
    """Record an attempt's outcome: the run history row, any reply, and the follow-up, in one transaction."""
    with transaction(host.inbox.engine) as db:
        now = utcnow()
        row = _held_row(db, result.id, runner, result.attempt)
        report = _report(result, runner)
        if report.outcome == Outcome.FAILED and result.transient:
            wait = timedelta(seconds=result.retry_after_s) if result.retry_after_s else None
            ended = fail_attempt(db, row.id, report, now=now, backoff=host.backoff, not_before=wait)
            if isinstance(ended, MessageIn):
                return ResultReply(status=ended.status)
            return ResultReply(status=ended.row.status, follow_up_id=ended.follow_up.id if ended.follow_up else None)
        if result.reply and report.outcome == Outcome.COMPLETED:
            post_outbox(
                db,
                session=row.session,
                kind=OutboxKind.REMINDER if row.remind else OutboxKind.REPLY,
                text=result.reply,
                now=now,
                in_reply_to=row.id,
                series_id=row.series_id,
            )
        record_exchange(db, row, result, now=now)
        ending = end_occurrence(db, row.id, report, now=now)
        budget.enforce(db, ending.follow_up, limit=host.agent_limits.daily_series_tokens, now=now)
        return ResultReply(status=ending.row.status, follow_up_id=ending.follow_up.id if ending.follow_up else None)


@router.post("/model", response_model=ModelReply, responses={502: {"model": ModelFailure}})
def model_call(request: ModelRequest, runner: Runner, host: Host) -> ModelReply | JSONResponse:
    """One model turn, sent by the host with its own credentials; a provider error comes back classified."""
    del runner  # authenticates the caller; the key used is the host's
    try:
        if host.model is None:
            raise ProviderError(
                "no model provider configured on this host: set INBOX_PROVIDER, INBOX_MODEL and the provider's key",
                kind="bad_request",
            )
        return host.model.complete(request)
    except ProviderError as exc:
        failure = ModelFailure(
            kind=exc.kind,
            message=exc.message,
            transient=exc.transient,
            status=exc.status,
            retry_after_s=exc.retry_after_s,
        )
        return JSONResponse(failure.model_dump(mode="json"), status_code=502)
