"""``/v1/limits``: the limits per tag (docs/limits.md) over HTTP, beside ``inbox limit`` and ``inbox limits``.

Reading them needs a ``read`` token, setting or removing one ``admin`` (:func:`inbox.http.auth.needed_scope`): a
limit decides how the whole host shares its runners. Each change is recorded in the audit trail as made by
``token:NAME``, like every other ``/v1`` change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from inbox.api_limits import LimitInfo
from inbox.errors import NotFound
from inbox.http.auth import check_token
from inbox.http.errors import error_responses, token_first
from inbox.http.public import Api

router = APIRouter(
    prefix="/v1",
    route_class=token_first(check_token),
    dependencies=[Depends(check_token)],
    responses=error_responses(401, 403, 422),
    tags=["limits"],
)

Tag = Annotated[str, Path(description="The tag (lowercase letters, digits, `_ . : -`).")]


class NewLimit(BaseModel):
    """A tag's limit: ``max_running``, ``rate`` or both; it replaces the tag's limit as a whole."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_running: int | None = Field(default=None, description="At most this many tasks with the tag run at once.")
    rate: str | None = Field(default=None, description="At most N start per DUR, as N/DUR: 10/1m, 100/1h.")


@router.get("/limits", response_model=list[LimitInfo])
def list_limits(inbox: Api) -> list[LimitInfo]:
    """Every tag's limit, and how many tasks with the tag run now (`running`), by tag."""
    return inbox.limits()


@router.put("/limits/{tag}", response_model=LimitInfo)
def set_limit(tag: Tag, body: NewLimit, inbox: Api) -> LimitInfo:
    """Set (or replace) a tag's limit across every host: the tasks over it wait, due, until there is room."""
    return inbox.set_limit(tag, max_running=body.max_running, rate=body.rate)


@router.delete("/limits/{tag}", response_model=LimitInfo, responses=error_responses(404))
def remove_limit(tag: Tag, inbox: Api) -> LimitInfo:
    """Remove a tag's limit (404 if it has none): its waiting tasks start at the next claim."""
    try:
        return inbox.remove_limit(tag)
    except NotFound:
        raise NotFound("limit", tag, field="tag") from None
