"""The audit trail in the store (docs/audit.md): a record per change, written by the change's own transaction.

Each change (:class:`inbox.enums.AuditAction`) calls :func:`record` with the session (``db``) that makes it, so
the record commits with the change or rolls back with it: a refused change leaves none, and no record stands for
a change that did not happen. A record is never updated; retention (sweeper.retention) is the only delete.

``changes`` holds only the fields that differ, each as ``{"before": ..., "after": ...}`` (``None`` where a field had
or has no value: a creation's ``before``, a deletion's ``after``). A request that changes nothing (pausing a paused
task, revoking a revoked token) writes no record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from inbox.enums import AuditAction, Status
from inbox.errors import InvalidInput, NotFound
from inbox.store.lookup import find_message
from inbox.store.models import ApiToken, AuditRecord, MessageIn

Fields = Mapping[str, Any]
MAY_CHANGE_NOTHING = frozenset(
    {
        AuditAction.TASK_UPDATE,
        AuditAction.TASK_PAUSE,
        AuditAction.TASK_RESUME,
        AuditAction.TASK_CANCEL,
        AuditAction.TOKEN_REVOKE,
        AuditAction.SESSION_SET,
        AuditAction.LIMIT_SET,
    }
)

HOST = "host"  # the actor of what the host does by itself (pausing a series that keeps failing, ...)
STORE = "store"  # the subject of what acts on the whole store (an import, a restore)

# How a task's own status reads in a record: its live row's (or what that row turns into once its run ends).
_STATUS_WORDS = {Status.PENDING: "active"}


def diff(before: Fields, after: Fields) -> dict[str, dict[str, Any]]:
    """The fields whose values differ, each with its value before and after (a field missing on one side: None)."""
    keys = [*before, *(key for key in after if key not in before)]
    return {
        key: {"before": before.get(key), "after": after.get(key)} for key in keys if before.get(key) != after.get(key)
    }


def record(
    db: Session,
    *,
    actor: str,
    action: AuditAction,
    subject: str,
    now: datetime,
    before: Fields | None = None,
    after: Fields | None = None,
    session: str | None = None,
) -> AuditRecord | None:
    """Add the record of a change to ``db``'s transaction; none when an action that may change nothing (an update,
    pause, resume, cancel, revocation, session setting) changed nothing. A creation, deletion or run is always
    recorded, even when all its fields are empty."""
    changes = diff(before or {}, after or {})
    if not changes and action in MAY_CHANGE_NOTHING:
        return None
    row = AuditRecord(at=now, actor=actor, action=action.value, subject=subject, session=session, changes=changes)
    db.add(row)
    return row


def task_change(db: Session, actor: str, action: AuditAction, row: MessageIn, now: datetime, *, before: Fields) -> None:
    """Record a change to a task whose row is now ``row`` (its fields against ``before``, from :func:`task_fields`)."""
    subject = row.series_id or row.id
    after = task_fields(row)
    record(db, actor=actor, action=action, subject=subject, session=row.session, now=now, before=before, after=after)


def host_paused(db: Session, row: MessageIn, *, reason: str, now: datetime) -> None:
    """Record that the host paused ``row``'s series by itself (too many failures, the token budget, a cancelled
    upstream), with the reason its live row now carries."""
    record(
        db,
        actor=HOST,
        action=AuditAction.TASK_PAUSE,
        subject=row.series_id or row.id,
        session=row.session,
        now=now,
        before={"status": "active", "reason": None},
        after={"status": "paused", "reason": reason},
    )


def task_fields(row: MessageIn) -> dict[str, Any]:
    """A task's definition and status as a record compares them: what it has now, with a change waiting on its
    running occurrence (``pending_update``) already counted, as that change is made by the same request."""
    pending: dict[str, Any] = dict(row.content.get("pending_update") or {})
    content = {**row.content, **({"text": pending["text"]} if "text" in pending else {})}
    for key in ("script", "on", "after", "when"):
        if key in pending:
            content[key] = pending[key]
    moved = "slot" in pending
    status = row.next_status or row.status
    next_run = pending["slot"] if moved else row.occurrence_at.isoformat() if row.occurrence_at else None
    return {
        "prompt": content.get("text"),
        "name": (pending.get("name", row.name)) or None,
        "schedule": pending.get("recurrence") if moved else row.recurrence,
        "timezone": pending.get("timezone", row.timezone),
        "next_run": next_run,
        "script": content.get("script") or None,
        "on": list(content.get("on") or []) or None,
        "after": list(content.get("after") or []) or None,
        "when": content.get("when") if content.get("after") else None,
        "deliver": (pending.get("deliver", row.deliver)) or None,
        "active_hours": row.active_hours,
        "catch_up": str(row.catch_up),
        "retries": row.retries,
        "max_runs": row.max_runs,
        "timeout_s": row.timeout_s,
        "remind": pending.get("do", row.do) == "remind" or None,
        "do": _kind(pending.get("do", row.do)),
        "with": pending["with_"] if "do" in pending else row.content.get("with"),
        "status": _STATUS_WORDS.get(Status(status), str(status)),
    }


def _kind(do: str) -> str | None:
    """A task's kind as a record shows it: None for the default (agent) and for remind, which ``remind`` says."""
    return None if do in ("agent", "remind") else do


def newest(db: Session, subjects: Sequence[str] | None, *, before: str | None, limit: int) -> list[AuditRecord]:
    """Up to ``limit`` records, newest first, older than the record ``before`` (an id): a keyset walk of the id
    index (or of (subject, id)), so any page costs the same however long the trail is."""
    query = select(AuditRecord)
    if subjects is not None:
        query = query.where(col(AuditRecord.subject).in_(list(subjects)))
    if before is not None:
        query = query.where(col(AuditRecord.id) < before)
    return list(db.exec(query.order_by(col(AuditRecord.id).desc()).limit(limit)).all())


def count_older(db: Session, subjects: Sequence[str] | None, *, before: str, cap: int) -> int:
    """How many records are older than the record ``before`` (the command line's "N more"), counting at most
    ``cap``: the count walks the same index range a page does, and stops."""
    query = select(AuditRecord.id).where(col(AuditRecord.id) < before)
    if subjects is not None:
        query = query.where(col(AuditRecord.subject).in_(list(subjects)))
    found = query.order_by(col(AuditRecord.id).desc()).limit(cap).subquery()
    return int(db.exec(select(func.count()).select_from(found)).one())


def subjects_of(db: Session, ident: str) -> list[str]:
    """What ``ident`` may stand for in the trail: itself (a token's, hook's, channel's or session's name, or a
    series id), the series of the task or occurrence it names (an id, a unique prefix or a name), and the name
    of the token whose id it is."""
    given = ident.strip()
    if not given:
        raise InvalidInput("id", "must not be empty")
    found = [given]
    try:
        row = find_message(db, given)
    except (NotFound, InvalidInput):
        row = None
    if row is not None and row.series_id is not None:
        found.append(row.series_id)
    token = db.get(ApiToken, given.upper())
    if token is not None:
        found.append(token.name)
    return sorted(set(found))
