"""Finding rows: a series by its id, any occurrence's id, an unambiguous id prefix, or its name."""

from __future__ import annotations

from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES
from inbox.errors import InvalidInput, NotFound
from inbox.store.models import MessageIn
from inbox.validation import storable

MIN_PREFIX = 6
LOCKED_LOOKS = 5  # a live row that keeps ending under a locking read is looked for again, this many times at most
_LIVE = {s.value for s in LIVE_STATUSES}


def find_message(db: Session, ident: str) -> MessageIn:
    given = storable(ident, field="id").strip()
    if not given:
        raise InvalidInput("id", "must not be empty")
    upper = given.upper()
    row = db.get(MessageIn, upper)
    if row is not None:
        return row
    if len(upper) >= MIN_PREFIX:
        matches = db.exec(select(MessageIn).where(col(MessageIn.id).startswith(upper)).limit(2)).all()
        if len(matches) > 1:
            raise InvalidInput("id", f"{given!r} matches several messages; give more characters")
        if matches:
            return matches[0]
    return _by_name(db, given)


def _by_name(db: Session, name: str) -> MessageIn:
    """A task's name works as its id while one series carries it; live series win over ended ones."""
    named = db.exec(
        select(MessageIn.series_id, MessageIn.status, MessageIn.id)
        .where(MessageIn.name == name, col(MessageIn.is_extra).is_(False))
        .order_by(col(MessageIn.id).desc())
    ).all()
    if not named:
        raise NotFound("task", name)
    live = {series for series, status, _ in named if status in _LIVE}
    candidates = live or {series for series, _, _ in named}
    if len(candidates) > 1:
        raise InvalidInput("id", f"several tasks are named {name!r}; use the id")
    series_id = candidates.pop()
    newest = next(row_id for series, _, row_id in named if series == series_id)
    found = db.get(MessageIn, newest)
    assert found is not None
    return found


def find_in_session(db: Session, ident: str, session: str) -> MessageIn:
    """The current row of a task of ``session``, by id, id prefix or name; another session's tasks are not found
    (:class:`NotFound` for ``task_id``), whatever they are called."""
    given = storable(ident, field="task_id").strip()
    mine = select(MessageIn.series_id).where(MessageIn.session == session, col(MessageIn.series_id).is_not(None))
    found = list(db.exec(mine.where(MessageIn.id == given.upper())).all())
    if not found and len(given) >= MIN_PREFIX:
        found = list(db.exec(mine.where(col(MessageIn.id).startswith(given.upper())).distinct().limit(2)).all())
    if not found and given:
        named = db.exec(
            select(MessageIn.series_id, MessageIn.status).where(
                MessageIn.session == session, MessageIn.name == given, col(MessageIn.is_extra).is_(False)
            )
        ).all()
        live = {series for series, status in named if status in _LIVE}
        found = list(live or {series for series, _ in named})
    if len(found) > 1:
        raise InvalidInput("task_id", f"{given!r} matches several tasks; give the id")
    if not found or found[0] is None:
        raise NotFound("task", given, field="task_id")
    return latest_row(db, found[0])


def find_series_id(db: Session, ident: str) -> str:
    row = find_message(db, ident)
    if row.series_id is None:
        raise InvalidInput("id", f"{row.id} is a {row.kind} message, not a task")
    return row.series_id


def live_row(db: Session, series_id: str, *, lock: bool = False) -> MessageIn | None:
    query = select(MessageIn).where(
        MessageIn.series_id == series_id,
        col(MessageIn.is_extra).is_(False),
        col(MessageIn.status).in_([s.value for s in LIVE_STATUSES]),
    )
    if not lock:
        return db.exec(query).first()
    locked = query.with_for_update()
    for _ in range(LOCKED_LOOKS):
        row = db.exec(locked).first()
        if row is not None or db.exec(query).first() is None:
            return row
        # PostgreSQL: the locking read waited for a row being ended, then found that row no longer live; the
        # follow-up written by the same commit is outside its snapshot, and a new statement sees it.
    return None


def latest_row(db: Session, series_id: str) -> MessageIn:
    """The live row, or else the newest row of the chain: it holds the series' current definition."""
    row = live_row(db, series_id)
    if row is not None:
        return row
    query = (
        select(MessageIn)
        .where(MessageIn.series_id == series_id, col(MessageIn.is_extra).is_(False))
        .order_by(col(MessageIn.id).desc())
        .limit(1)
    )
    found = db.exec(query).first()
    if found is None:
        raise NotFound("task", series_id)
    return found


def extra_rows(db: Session, series_id: str, statuses: list[str]) -> list[MessageIn]:
    query = select(MessageIn).where(
        MessageIn.series_id == series_id,
        col(MessageIn.is_extra).is_(True),
        col(MessageIn.status).in_(statuses),
    )
    return list(db.exec(query).all())
