"""``/v1/sessions``: a session's settings over HTTP, beside ``inbox session set`` and ``inbox sessions``.

A session's settings are its default channel (``deliver``) and the active hours of its tasks that have no window
of their own (docs/schedules.md). Reading them needs a ``read`` token; changing them ``admin``
(:func:`inbox.http.auth.needed_scope`), since they decide where every answer of the session goes and when its
tasks may run. Each change is recorded in the audit trail as made by ``token:NAME`` (``session.set``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from inbox.http.auth import check_token
from inbox.http.errors import error_responses, token_first
from inbox.http.public import Api
from inbox.views import SessionInfo

router = APIRouter(
    prefix="/v1",
    route_class=token_first(check_token),
    dependencies=[Depends(check_token)],
    responses=error_responses(401, 403, 422),
    tags=["sessions"],
)

SessionName = Annotated[str, Path(description="The session's name (`main` unless a message or task named another).")]


class SessionChange(BaseModel):
    """What to change; a field left out keeps its value, and at least one must be given."""

    model_config = ConfigDict(extra="forbid", strict=True)

    deliver: str | None = Field(default=None, description="The session's channel; `none`: the outbox only.")
    active_hours: str | None = Field(
        default=None, description='HH:MM-HH:MM in each task\'s timezone, may cross midnight; `""` removes it.'
    )


@router.get("/sessions", response_model=list[SessionInfo])
def list_sessions(inbox: Api) -> list[SessionInfo]:
    """Every session that has settings, by name (a session without any delivers to the outbox at any hour)."""
    return inbox.sessions()


@router.patch("/sessions/{session}", response_model=SessionInfo)
def change_session(session: SessionName, body: SessionChange, inbox: Api) -> SessionInfo:
    """Set a session's channel or active hours (or both); the change applies from the next claim on every host."""
    return inbox.set_session(session, deliver=body.deliver, active_hours=body.active_hours)
