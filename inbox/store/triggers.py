"""The patterns series listen to (``--on``), kept as an index an event finds its candidates by.

The series' own definition keeps its patterns too (``content["on"]``, shown by listings and copied onto each
occurrence); this table mirrors it so that an emit reads only the patterns that can match its name: those under
the event's first word and those that start with a wildcard (inbox.event_names.head_of), never all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete
from sqlmodel import Session, col, select

from inbox.event_names import ANY_HEAD, head_of, matches, name_head, tail_of
from inbox.store.trigger_tables import EventTrigger

CHUNK = 500  # first words per query
_UNDER = select(EventTrigger.head, EventTrigger.series_id, EventTrigger.pattern, EventTrigger.session).where(
    col(EventTrigger.head).in_(bindparam("heads", expanding=True))
)  # built once: building it anew costs more than running it


def replace(db: Session, series_id: str, session: str, patterns: Sequence[str]) -> None:
    """The patterns ``series_id`` listens to from now on (none: it listens to no event)."""
    db.execute(delete(EventTrigger).where(col(EventTrigger.series_id) == series_id))
    for pattern in dict.fromkeys(patterns):
        db.add(EventTrigger(series_id=series_id, pattern=pattern, head=head_of(pattern), session=session))
    db.flush()


class Candidates:
    """The series whose patterns match the events of a batch: the patterns under their first words (and those
    starting with a wildcard) read in one indexed query per chunk of words, never the others."""

    def __init__(self, db: Session, names: Sequence[str]) -> None:
        heads = sorted({name_head(name) for name in names} | {ANY_HEAD})
        self._under: dict[str, list[tuple[str, str, str]]] = {head: [] for head in heads}
        for start in range(0, len(heads), CHUNK):
            for head, series_id, pattern, session in db.execute(_UNDER, {"heads": heads[start : start + CHUNK]}):
                self._under[head].append((series_id, pattern, session))
        # Patterns that start with a wildcard are compared with every event: those that end with a literal word
        # (*.deploy) only with the events that end with it.
        self._by_tail: dict[str, list[tuple[str, str, str]]] = {}
        for found in self._under.pop(ANY_HEAD):
            self._by_tail.setdefault(tail_of(found[1]), []).append(found)

    def matching(self, name: str, session: str | None) -> list[str]:
        """The series (sorted ids) with a pattern matching the event ``name`` (one of the batch's); with
        ``session``, that session's only. Whether each is active is for the caller to see: it must lock the series
        to know for sure."""
        wild = (*self._by_tail.get(name.rsplit(".", 1)[-1], ()), *self._by_tail.get(ANY_HEAD, ()))
        found = {
            series_id
            for series_id, pattern, owner in (*self._under[name_head(name)], *wild)
            if (session is None or owner == session) and matches(pattern, name)
        }
        return sorted(found)
