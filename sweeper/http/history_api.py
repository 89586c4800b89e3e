"""The conversation a run continues: read before the model is asked (sweeper.results writes it when the run ends).

The host decides which conversation a row belongs to (inbox.store.history.scope_of), so a runner cannot read
another session's history even by asking for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from sqlmodel import Session

from agent_runner.conversation import ChatTurn
from agent_runner.protocol import PREFIX, HistoryReply, HistoryRequest
from inbox.http.errors import token_first
from inbox.store import history
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn
from sweeper.http.runner_auth import RunnerIdentity, runner_identity
from sweeper.http.state import HostState, host_state

router = APIRouter(prefix=PREFIX, tags=["runner"], route_class=token_first(runner_identity))


@router.post("/history", response_model=HistoryReply)
def read_history(
    body: HistoryRequest,
    runner: Annotated[RunnerIdentity, Depends(runner_identity)],
    host: Annotated[HostState, Depends(host_state)],
) -> HistoryReply:
    with read_transaction(host.inbox.engine) as db:  # no write lock to wait for (SQLite): see sweeper.results
        row = db.get(MessageIn, body.message_id)
        if row is None or row.session != runner.session or row.lease_owner != runner.owner:
            raise HTTPException(403, f"message {body.message_id} is not held by this runner")
        return history_of(db, row, budget_tokens=host.agent_limits.history_tokens)


def history_of(db: Session, row: MessageIn, *, budget_tokens: int) -> HistoryReply:
    """The conversation ``row``'s run continues: for /history, and with the claim (sweeper.http.runner_api)."""
    mode = history.context_of(row)
    scope = history.scope_of(row)
    if scope is None:
        return HistoryReply(mode=mode, budget_tokens=budget_tokens)
    stored = history.load(db, scope)
    summary = next((t.turn.get("text") for t in stored if t.role == history.SUMMARY), None)
    turns = [ChatTurn.model_validate(t.turn) for t in stored if t.role != history.SUMMARY]
    return HistoryReply(
        mode=mode,
        summary=str(summary) if summary else None,
        turns=turns,
        newest_id=stored[-1].id if stored else None,
        budget_tokens=budget_tokens,
    )
