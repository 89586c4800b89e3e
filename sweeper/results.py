"""What the host does with a runner's model calls and results, whatever route they came by.

A model call is made only for an attempt the runner holds under lease, and its tokens are charged to that
attempt (sweeper.meter). A result is accepted only while the lease holds; its run is recorded with the tokens the
host counted, never the ones the result claims, and in the same transaction the reply goes to the outbox, the
exchange to its conversation, the occurrence ends (or is retried) and the series' daily budget is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from agent_runner.conversation import ModelReply, ProviderError, Usage
from agent_runner.protocol import ModelRequest, ResultReply, RunResult
from inbox.enums import OutboxKind, Outcome, Status
from inbox.logs import context
from inbox.store import budget, history, series_state
from inbox.store.claims import fail_attempt, held_row
from inbox.store.endings import RunReport, describe_ending, describe_row, end_occurrence, post_outbox
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import MessageIn, Run
from inbox.store.types import utcnow
from sweeper.meter import Attempt, TokenMeter
from sweeper.providers import MAX_RETRY_AFTER_S

MAX_COUNT = 2**31 - 1  # what the runs table's token columns hold
# A pre-script's state is kept when the run it gated went through; after a failure the next run (the retry too)
# reads the state the failed one read, so what the script found then is looked at again rather than lost.
KEEPS_STATE = frozenset({Outcome.COMPLETED, Outcome.SILENT, Outcome.SKIPPED})
log = logging.getLogger("inbox.runs")  # one line per recorded attempt, naming its task and any failure's reason


class Model(Protocol):
    def complete(self, request: ModelRequest) -> ModelReply: ...


def ask_model(
    engine: Engine, model: Model, meter: TokenMeter, request: ModelRequest, *, session: str, owner: str
) -> ModelReply:
    """One model turn for an attempt ``owner`` holds, its usage (as the provider reported it) charged to it.

    Raises NotFound, OtherSession or NotHeld (inbox.store.claims), or AttemptClosed once the result is in.
    """
    attempt = Attempt(owner=owner, message_id=request.message_id, attempt=request.attempt)
    with meter.call(attempt):
        # A read: on SQLite a write transaction would queue behind the runner's next claim (taken at the same
        # moment) and the sweeper for the write lock, on the path from a claim to its model request.
        with read_transaction(engine) as db:
            held_row(db, request.message_id, session=session, owner=owner, attempt=request.attempt, lock=False)
        try:
            reply = model.complete(request)
        except ProviderError as exc:
            meter.note_call(attempt, exc)
            raise
        meter.note_call(attempt, None)
        meter.add(attempt, reply.usage)
        return reply


def run_report(result: RunResult, owner: str, used: Usage, *, outage: bool = False) -> RunReport:
    """The run row's part of ``result``, with the tokens the host counted (``used``)."""
    return RunReport(
        outcome=Outcome(result.outcome),
        started_at=result.started_at,
        error=result.error,
        script_output=result.script_output,
        model_output=result.model_output,
        input_tokens=min(used.input_tokens, MAX_COUNT),
        output_tokens=min(used.output_tokens, MAX_COUNT),
        runner=owner,
        outage=outage,
    )


def record_result(
    engine: Engine,
    meter: TokenMeter,
    result: RunResult,
    *,
    session: str,
    owner: str,
    backoff: Sequence[timedelta],
    daily_series_tokens: int,
) -> ResultReply:
    """Record an attempt's outcome: the run history row, any reply, and the follow-up, in one transaction.

    Raises NotFound, OtherSession or NotHeld (inbox.store.claims) when the lease does not hold; nothing is
    written then.
    """
    attempt = Attempt(owner=owner, message_id=result.id, attempt=result.attempt)
    outage = result.outcome == "failed" and meter.provider_down(attempt)
    used = meter.settle(attempt)
    try:
        return _record(
            engine, result, used, outage, session=session, owner=owner, backoff=backoff, limit=daily_series_tokens
        )
    except BaseException:
        meter.add(attempt, used)  # not recorded (the store away, the lease lost): counted when it is
        raise


def _ran(row: MessageIn, run: Run) -> dict[str, object]:
    return context(row, run_id=run.id, outcome=str(run.outcome), attempt=run.attempt)


def _record(
    engine: Engine,
    result: RunResult,
    used: Usage,
    outage: bool,
    *,
    session: str,
    owner: str,
    backoff: Sequence[timedelta],
    limit: int,
) -> ResultReply:
    with transaction(engine) as db:
        now = utcnow()
        row = held_row(db, result.id, session=session, owner=owner, attempt=result.attempt)
        return record_held(
            db, row, run_report(result, owner, used, outage=outage), result, now=now, backoff=backoff, limit=limit
        )


def record_held(
    db: Session,
    row: MessageIn,
    report: RunReport,
    result: RunResult,
    *,
    now: datetime,
    backoff: Sequence[timedelta],
    limit: int,
) -> ResultReply:
    """Record the attempt of ``row`` (locked, and held by the one reporting it) that ended as ``result`` says: the
    one place for what a result writes, whoever made the run (a runner, or the host for its own http requests)."""
    if report.outcome == Outcome.FAILED and result.transient:
        wait = timedelta(seconds=min(result.retry_after_s, MAX_RETRY_AFTER_S)) if result.retry_after_s else None
        ended = fail_attempt(db, row.id, report, now=now, backoff=backoff, not_before=wait)
        if isinstance(ended, MessageIn):
            retry_at = ended.process_after.isoformat(timespec="seconds")
            what = describe_row(row)
            log.warning(
                "%s: attempt %d failed, retried at %s: %s",
                *(what, ended.tries, retry_at, report.error),
                extra=context(row, attempt=result.attempt, outcome=Outcome.FAILED.value),
            )
            return ResultReply(status=ended.status)
        if ended.run is not None:
            log.warning("%s", describe_ending(ended.row, ended.run), extra=_ran(ended.row, ended.run))
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
            deliver=row.deliver,
        )
    record_exchange(db, row, result, now=now)
    if result.state is not None and row.series_id and report.outcome in KEEPS_STATE:
        series_state.keep(db, row.series_id, result.state.value, now=now)
    ending = end_occurrence(db, row.id, report, now=now)
    if ending.run is not None:
        failed = ending.row.status == Status.FAILED
        level = logging.WARNING if failed else logging.INFO
        log.log(level, "%s", describe_ending(ending.row, ending.run), extra=_ran(ending.row, ending.run))
    budget.enforce(db, ending.follow_up, limit=limit, now=now)
    return ResultReply(status=ending.row.status, follow_up_id=ending.follow_up.id if ending.follow_up else None)


def record_exchange(db: Session, row: MessageIn, result: RunResult, *, now: datetime) -> None:
    """Keep the run's exchange in its conversation (in the transaction that ends the run)."""
    scope = history.scope_of(row)
    if scope is None or result.outcome not in ("completed", "silent"):
        return
    if result.summary and result.summary_through:
        history.compact(
            db, scope, session=row.session, through_id=result.summary_through, summary=result.summary, now=now
        )
    turns = [turn.model_dump(mode="json", exclude_defaults=True) for turn in result.new_turns]
    history.append(db, scope, session=row.session, message_id=row.id, turns=turns, now=now)
