"""The Python API's limits per tag (``Inbox.set_limit``, ``limits``, ``remove_limit``; docs/limits.md), kept apart
from inbox.api so each stays short; :class:`inbox.api.Inbox` has them all."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from sqlmodel import Session

from inbox import validation as check
from inbox.enums import AuditAction
from inbox.errors import InvalidInput
from inbox.schedules import parse_duration
from inbox.schedules.durations import format_duration
from inbox.store import limits as limit_store
from inbox.store.audit import record
from inbox.store.engine import read_transaction, transaction
from inbox.store.tag_tables import TagLimit
from inbox.views import Instant

_RATE = re.compile(r"\s*(\d+)\s*/\s*(\S+)\s*")
MAX_COUNT = 1_000_000


class LimitInfo(BaseModel):
    """A tag's limit as ``inbox limits`` shows it, with how many of its rows run now."""

    model_config = ConfigDict(frozen=True)

    tag: str
    max_running: int | None
    rate: str | None  # "N/DUR": at most N starts per DUR
    running: int
    created_at: Instant
    created_by: str


def parse_rate(value: str) -> tuple[int, timedelta]:
    """``10/1m``: at most 10 starts per minute."""
    found = _RATE.fullmatch(value)
    if found is None:
        raise InvalidInput("rate", f"{value!r} is not N/DUR (a count of starts per duration, e.g. 10/1m)")
    count = check.positive_int(int(found.group(1)), field="rate", maximum=MAX_COUNT)
    assert count is not None
    return count, parse_duration(found.group(2), field="rate")


def _fields(row: TagLimit | None) -> dict[str, object]:
    """A limit as the audit trail compares it (docs/audit.md)."""
    if row is None:
        return {}
    return {"max_running": row.max_running, "rate": _rate(row)}


def _rate(row: TagLimit) -> str | None:
    if row.rate_count is None or row.rate_seconds is None:
        return None
    return f"{row.rate_count}/{format_duration(timedelta(seconds=row.rate_seconds))}"


def _view(row: TagLimit, running: int) -> LimitInfo:
    return LimitInfo(
        tag=row.tag,
        max_running=row.max_running,
        rate=_rate(row),
        running=running,
        created_at=row.created_at,
        created_by=row.created_by,
    )


class LimitMethods:
    engine: Engine
    actor: str
    clock: Callable[[], datetime]

    def set_limit(self, tag: str, *, max_running: int | None = None, rate: str | None = None) -> LimitInfo:
        """At most ``max_running`` occurrences with ``tag`` run at once across every host, and (``rate``, N/DUR) at
        most N start per DUR; replaces the tag's limit. The others wait, pending."""
        check.tag(tag)
        check.positive_int(max_running, field="max_running", maximum=MAX_COUNT)
        bounds = parse_rate(rate) if rate is not None else None
        if max_running is None and bounds is None:
            raise InvalidInput("max_running", "give a limit: max_running, rate, or both", mentions=("rate",))
        with transaction(self.engine) as db:
            now = self.clock()
            before = _fields(limit_store.get(db, tag))
            row = limit_store.set_limit(db, tag, max_running=max_running, rate=bounds, now=now, actor=self.actor)
            after = _fields(row)
            record(db, actor=self.actor, action=AuditAction.LIMIT_SET, subject=tag, now=now, before=before, after=after)
            return _view(row, limit_store.running_counts(db, [tag]).get(tag, 0))

    def remove_limit(self, tag: str) -> LimitInfo:
        check.tag(tag)
        with transaction(self.engine) as db:
            row = limit_store.remove_limit(db, tag)
            action = AuditAction.LIMIT_REMOVE
            record(db, actor=self.actor, action=action, subject=tag, now=self.clock(), before=_fields(row))
            return _view(row, limit_store.running_counts(db, [tag]).get(tag, 0))

    def limits(self) -> list[LimitInfo]:
        with read_transaction(self.engine) as db:
            return views(db)


def views(db: Session) -> list[LimitInfo]:
    """Every tag's limit by tag, with how many of its rows run now (the API's answer, the dashboard's block)."""
    rows = limit_store.listed(db)
    running = limit_store.running_counts(db, [row.tag for row in rows])
    return [_view(row, running.get(row.tag, 0)) for row in rows]
