"""What the dashboard's routes share: the router, page sizes, filters and cursors read from the query string."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from fastapi import APIRouter

from inbox import validation as check
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.web.access import Refused

router = APIRouter(include_in_schema=False)
PAGE = 50
E = TypeVar("E", bound=StrEnum)


@contextmanager
def refusing() -> Iterator[None]:
    """The core's refusals, said on the page (404, 409, 422) instead of as the API's JSON."""
    try:
        yield
    except NotFound as error:
        raise Refused(404, str(error)) from None
    except Conflict as error:
        raise Refused(409, str(error)) from None
    except InvalidInput as error:
        raise Refused(422, str(error)) from None


def text_filter(value: str | None, field: str) -> str | None:
    """A filter from a form: empty means none."""
    if value is None or not value.strip():
        return None
    with refusing():
        return check.filter_text(value.strip(), field=field)


def choice_filter(enum: type[E], value: str | None, field: str) -> E | None:
    if value is None or not value.strip():
        return None
    with refusing():
        return check.choice(enum, value.strip(), field=field)


def cursor(value: str | None, field: str) -> tuple[datetime, str] | None:
    """A page's cursor ``INSTANT|ID`` (the sort key of the last row shown), as the page's own links write it."""
    if not value:
        return None
    instant, bar, row_id = value.partition("|")
    try:
        when = datetime.fromisoformat(instant)
    except ValueError:
        when = None
    if not bar or when is None or when.tzinfo is None or not row_id.isalnum():
        raise Refused(422, f"{field}: {value!r} is not a cursor of this page; follow the page's own links")
    return when, row_id


def id_cursor(value: str | None, field: str) -> str | None:
    if not value:
        return None
    if not value.isalnum() or len(value) > 26:
        raise Refused(422, f"{field}: {value!r} is not a cursor of this page; follow the page's own links")
    return value


def cursor_of(instant: datetime, row_id: str) -> str:
    return f"{instant.isoformat()}|{row_id}"
