"""Conditions shared by the queries that find due work, built once.

Every sweep pass and every runner's claim uses them; building a JSON path expression or an aliased subquery
anew takes 0.1 to 1 ms of Python each time, more than the indexed query itself.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, TextClause, and_, exists, func, or_, text
from sqlalchemy.orm import aliased
from sqlmodel import col

from inbox.enums import Status
from inbox.store.models import HTTP_SQL, PENDING_SQL, REMINDERS_SQL, WINDOWED_SQL, MessageIn

_SCRIPT = col(MessageIn.content)["script"].as_string()
_DO = col(MessageIn.content)["do"].as_string()
_RUNNING = aliased(MessageIn, name="running")

_NO_SCRIPT = or_(_SCRIPT.is_(None), _SCRIPT == "")
# A reminder the host delivers itself: one with a pre-script is gated by it, and scripts run only in a runner's
# sandbox.
HOST_DELIVERS: ColumnElement[bool] = and_(col(MessageIn.remind).is_(True), _NO_SCRIPT)
# An ``http`` task the host runs itself (sweeper.host_requests): its request is the host's to make whoever holds
# the run, and without a pre-script nothing else of it needs a runner (an http run reads no event or upstream data
# and reports no progress). A runner never claims one.
HOST_REQUESTS: ColumnElement[bool] = and_(
    col(MessageIn.remind).is_(False),
    func.coalesce(_DO, "") == "http",
    _NO_SCRIPT,  # never NULL: negated below
)
FOR_A_RUNNER: ColumnElement[bool] = ~or_(HOST_DELIVERS, HOST_REQUESTS)


def _spelled_for(predicate: str) -> TextClause:
    """A partial index's predicate (inbox.store.models) as a query must spell it for the planners to use the index:
    a literal (not a bound value), its columns named by table."""
    return text(re.sub(r"\b(status|remind|active_hours|content)\b", r"messages_in.\1", predicate))


# Pending rows (the claim index's), pending rows held to a window of their own, pending reminders, and pending
# http tasks by dialect (its JSON path is spelled per dialect): with these a query reads its own index's rows, not
# every due row.
PENDING: TextClause = _spelled_for(PENDING_SQL)
PENDING_WINDOWED: TextClause = _spelled_for(WINDOWED_SQL)
PENDING_REMINDERS: TextClause = _spelled_for(REMINDERS_SQL)
PENDING_HTTP: dict[str, TextClause] = {dialect: _spelled_for(spelled) for dialect, spelled in HTTP_SQL.items()}
# One of those the host claims set-based (inbox.store.host_requests): a one-shot, so no catch-up applies to it, of
# its own series, and held to no window of its own.
PLAIN_HOST_REQUESTS: ColumnElement[bool] = and_(
    HOST_REQUESTS,
    col(MessageIn.recurrence).is_(None),
    col(MessageIn.is_extra).is_(False),
    col(MessageIn.active_hours).is_(None),
)
# No occurrence of the row's series is running: two occurrences of one series never run together.
IDLE_SERIES: ColumnElement[bool] = ~exists().where(
    and_(col(_RUNNING.series_id) == col(MessageIn.series_id), col(_RUNNING.status) == Status.RUNNING.value)
)
# Oldest due first; the due index (status, process_after, id) serves it without sorting.
DUE_ORDER = (col(MessageIn.process_after), col(MessageIn.id))
