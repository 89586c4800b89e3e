"""The start gate: ``POST /runner/v1/start``, which a runner asks at the due time of an item it claimed early.

The host answers go once its own clock has reached the row's ``process_after`` (an early ask waits on the event
loop, holding no thread), after one read of the row (inbox.store.early.start_check): still this runner's for this
attempt, nothing written to it or its series since the claim. A pause, cancel or update meanwhile, or a host
shutting down, hands the row back unstarted instead (inbox.store.early.hand_back): a write, the rare case.

Every millisecond the answer takes is lateness (docs/benchmarks.md, "Lateness"), so this route is leaner than the
other runner routes, which cost about 3 ms here against 1 ms for the HTTP round trip itself: the runner's token is
looked up in memory on the event loop (their shared check runs in a worker thread, because an API token's may ask
the store; a token not found here goes that way, to be refused as there), the body is read by its model without
FastAPI's parameter machinery, and on SQLite the read runs on the event loop too: a read of one row by its key
in a WAL snapshot, which waits for no writer. PostgreSQL's read goes to a worker thread: a server away would
otherwise hold the loop.
"""

from __future__ import annotations

import asyncio
import time
from functools import cache

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import Engine

from agent_runner.protocol import PREFIX, PROTOCOL_VERSION, VERSION_HEADER, StartReply, StartRequest
from inbox.http.auth import bearer
from inbox.http.errors import error_responses
from inbox.store.claims import NotHeld
from inbox.store.early import hand_back, start_check
from inbox.store.engine import READ_ONLY, transaction
from inbox.store.types import utcnow
from sweeper.http.runner_api import lease_refusals
from sweeper.http.runner_auth import RunnerIdentity, RunnerTokens, runner_identity
from sweeper.http.state import HostState

router = APIRouter(prefix=PREFIX, tags=["runner"])
# asyncio's timers wake up to a millisecond or two late (epoll counts whole milliseconds, and the loop has other
# work): an early ask sleeps until this long before the due time, then yields to the loop until the time comes.
SPIN_S = 0.002
_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": StartRequest.model_json_schema()}}}
}


def _known(request: Request) -> RunnerIdentity | None:
    """The runner a valid token of the right protocol stands for, looked up in memory; None: let the shared check
    answer (and refuse) it."""
    tokens: RunnerTokens = request.app.state.runner_tokens
    identity = tokens.find(bearer(request))
    return identity if identity is not None and request.headers.get(VERSION_HEADER) == PROTOCOL_VERSION else None


async def _until(wall: float) -> None:
    """Until the wall clock (``time.time()``) reaches ``wall``, holding no thread: asleep, then for the last
    ``SPIN_S`` letting the loop run its other work between looks at the clock."""
    left = wall - time.time()
    if left > SPIN_S:
        await asyncio.sleep(left - SPIN_S)
    while time.time() < wall:
        await asyncio.sleep(0)


@cache
def _reader(engine: Engine) -> Engine:
    """The store for the gate's read: a bare connection, no ORM session (a tenth of a millisecond less), without
    SQLite's write lock (inbox.store.engine.read_transaction)."""
    return engine.execution_options(**{READ_ONLY: True})


def _look(host: HostState, runner: RunnerIdentity, body: StartRequest) -> float | str | None:
    """Seconds left to the row's due time; else why it must be handed back; else None (go)."""
    if host.draining.is_set():
        return "host shutting down"
    with _reader(host.inbox.engine).connect() as conn:
        return start_check(
            conn, body.message_id, session=runner.session, owner=runner.owner, attempt=body.attempt, now=utcnow()
        )


def _hand_back(host: HostState, runner: RunnerIdentity, body: StartRequest, why: str) -> StartReply:
    with transaction(host.inbox.engine) as db:
        if hand_back(db, body.message_id, owner=runner.owner, attempt=body.attempt, now=utcnow()) is None:
            raise NotHeld(f"lease lost: message {body.message_id} attempt {body.attempt} is not this runner's")
    return StartReply(go=False, reason=why)


@router.post("/start", response_model=StartReply, responses=error_responses(404, 409), openapi_extra=_BODY)
async def start(request: Request) -> Response:
    """Go once the row is due, or handed back unstarted (``go: false`` and why); 409 when the runner does not hold
    that attempt."""
    known = _known(request)
    runner = known if known is not None else await run_in_threadpool(runner_identity, request)
    try:
        body = StartRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    host: HostState = request.app.state.host
    inline = host.inbox.engine.dialect.name == "sqlite"
    with lease_refusals():
        while True:
            found = _look(host, runner, body) if inline else await run_in_threadpool(_look, host, runner, body)
            if not isinstance(found, float):
                break
            await _until(time.time() + found)
        # A hand-back writes: on SQLite it may wait for the write lock, never on the event loop.
        reply = StartReply(go=True) if found is None else await run_in_threadpool(_hand_back, host, runner, body, found)
    return Response(reply.model_dump_json(), media_type="application/json")
