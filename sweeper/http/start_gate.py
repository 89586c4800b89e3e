"""The start gate: ``POST /runner/v1/start``, which a runner asks just before the due time of an item it claimed
early (agent_runner.loop.START_LEAD).

The host answers once its own clock has reached ``GO_AHEAD`` (10 ms) before the row's ``process_after``, after
reading the row then (inbox.store.early.start_check): still this runner's for this attempt, nothing written to it
or its series since the claim. Then go; the runner starts at the due time on its own clock. Or, after a pause,
cancel or update meanwhile, or while the host shuts down, the row is handed back unstarted
(inbox.store.early.hand_back: a write, the rare case, in a worker thread).

An agent run came with its conversation in the claim: the go brings what it lacks, read then, only if it has moved
on since (a run of the same conversation ended meanwhile), which one step of an index tells: the turns added, or
the whole conversation when a summary replaced some of it. Sent whole with every go, a long conversation took
longer to read, send and parse than the go's lead, and made the go late (docs/benchmarks.md, "Lateness").

Answered at the due time, the read, the hop back to the event loop and the answer's way to the runner were all
lateness (docs/benchmarks.md, "Lateness"); answered ahead, none is. The route is still leaner than the other runner
routes, whose token check and parameter machinery cost more than the HTTP round trip itself: the runner's token is
looked up in memory on the event loop (their shared check runs in a worker thread, because an API token's may ask
the store; a token not found here goes that way, to be refused as there), and the body is read by its model without
FastAPI's parameter machinery. The request is checked at once, in a worker thread (a store away, or a pool of
connections all in use, must not hold the event loop); the wait holds no thread but for its last ``FINAL_S``, and
the worker thread that waits those out reads the row again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from functools import partial

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from agent_runner.conversation import ChatTurn
from agent_runner.protocol import PREFIX, PROTOCOL_VERSION, VERSION_HEADER, StartReply, StartRequest
from inbox.defaults import GO_AHEAD
from inbox.errors import NotFound
from inbox.http.auth import bearer
from inbox.http.errors import error_responses
from inbox.store import history
from inbox.store.claims import NotHeld
from inbox.store.early import hand_back, start_check
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from sweeper.http.history_api import history_of
from sweeper.http.runner_api import lease_refusals
from sweeper.http.runner_auth import RunnerIdentity, RunnerTokens, runner_identity
from sweeper.http.state import HostState

router = APIRouter(prefix=PREFIX, tags=["runner"])
# asyncio's timers wake up to a millisecond or two late (epoll counts whole milliseconds, and the loop has other
# work): an early ask sleeps on the loop until this long before its time to look, and the rest in a worker thread,
# which then reads the row. The thread is held for this long at most.
FINAL_S = 0.003
# Another host's clock may be a little behind this one's: a summary it wrote just after the claim must not look older.
CLOCKS_APART = timedelta(seconds=5)
_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": StartRequest.model_json_schema()}}}
}


def _known(request: Request) -> RunnerIdentity | None:
    """The runner a valid token of the right protocol stands for, looked up in memory; None: let the shared check
    answer (and refuse) it."""
    tokens: RunnerTokens = request.app.state.runner_tokens
    identity = tokens.find(bearer(request))
    return identity if identity is not None and request.headers.get(VERSION_HEADER) == PROTOCOL_VERSION else None


def _look(
    host: HostState, runner: RunnerIdentity, body: StartRequest, *, at: datetime | None = None
) -> datetime | str | StartReply:
    """When to look again (``GO_AHEAD`` before the row's due time) while that is still to come; else why the row
    must be handed back; else go. With ``at``, first sleeps until then: a thread's sleep ends within a tenth of a
    millisecond of the time asked, where the event loop's timers are a millisecond or two late."""
    if at is not None:
        wall = at.timestamp()
        while (left := wall - time.time()) > 0:
            time.sleep(left)
    if host.draining.is_set():
        return "host shutting down"
    found = start_check(
        host.inbox.engine,
        body.message_id,
        session=runner.session,
        owner=runner.owner,
        attempt=body.attempt,
        now=utcnow() + GO_AHEAD,
    )
    if isinstance(found, datetime):
        return found - GO_AHEAD
    if found is not None:
        return found
    if not body.history:
        return StartReply(go=True)
    with read_transaction(host.inbox.engine) as db:
        row = db.get(MessageIn, body.message_id)
        if row is None:  # read a moment ago, so never expected: answered as start_check would
            raise NotFound("message", body.message_id)
        scope = history.scope_of(row)
        if scope is None or history.newest(db, scope) == body.newest_id:
            return StartReply(go=True)  # what the claim sent is still the whole conversation: the usual case
        added = history.after(db, scope, body.newest_id) if body.newest_id is not None else []
        summarized = history.summarized_since(db, scope, row.updated_at - CLOCKS_APART)  # since the claim
        if added and not summarized and all(turn.role != history.SUMMARY for turn in added):
            turns = [ChatTurn.model_validate(turn.turn) for turn in added]
            return StartReply(go=True, added=turns, added_through=added[-1].id)
        return StartReply(go=True, history=history_of(db, row, budget_tokens=host.agent_limits.history_tokens))


def _hand_back(host: HostState, runner: RunnerIdentity, body: StartRequest, why: str) -> StartReply:
    with transaction(host.inbox.engine) as db:
        if hand_back(db, body.message_id, owner=runner.owner, attempt=body.attempt, now=utcnow()) is None:
            raise NotHeld(f"lease lost: message {body.message_id} attempt {body.attempt} is not this runner's")
    return StartReply(go=False, reason=why)


@router.post("/start", response_model=StartReply, responses=error_responses(404, 409), openapi_extra=_BODY)
async def start(request: Request) -> Response:
    """Go shortly before the row is due, or handed back unstarted (``go: false`` and why); 409 when the runner does
    not hold that attempt."""
    known = _known(request)
    runner = known if known is not None else await run_in_threadpool(runner_identity, request)
    try:
        body = StartRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    host: HostState = request.app.state.host
    with lease_refusals():
        found = await run_in_threadpool(_look, host, runner, body)
        while isinstance(found, datetime):  # asked early, as runners do: looked at again GO_AHEAD before the due time
            left = found.timestamp() - time.time()  # from that time itself: the hop here took time too
            if left > FINAL_S:
                await asyncio.sleep(left - FINAL_S)
            found = await run_in_threadpool(partial(_look, at=found), host, runner, body)
        # A hand-back writes: on SQLite it may wait for the write lock, never on the event loop.
        reply = (
            found if isinstance(found, StartReply) else await run_in_threadpool(_hand_back, host, runner, body, found)
        )
    return Response(reply.model_dump_json(), media_type="application/json")
