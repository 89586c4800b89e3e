"""A task's tags: kept on each of its rows and mirrored in ``task_tags``, the index a tag's tasks are found by.

Which limit lane (``gate``) a row is claimed in follows from its tags and the limits set: the first of its tags
that has a limit, or "" when none has. It is written with the tags, and again on every live row carrying a tag
whose limit is set or removed (inbox.store.limits), so a claim finds each lane's rows through the claim index.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from inbox.store.tag_tables import TagLimit, TaskTag


def limited(db: Session) -> set[str]:
    """The tags that have a limit."""
    return set(db.exec(select(TagLimit.tag)).all())


def gate_of(tags: Sequence[str] | None, limited_tags: Collection[str]) -> str:
    """The lane a row with ``tags`` is claimed in: its first limited tag (sorted), "" when it has none."""
    return min((tag for tag in tags or () if tag in limited_tags), default="")


def replace(db: Session, series_id: str, tags: Sequence[str]) -> None:
    """The tags ``series_id`` carries from now on (none: no tags)."""
    db.execute(delete(TaskTag).where(col(TaskTag.series_id) == series_id))
    for tag in dict.fromkeys(tags):
        db.add(TaskTag(series_id=series_id, tag=tag))
    db.flush()


def series_tagged(tag: str) -> SelectOfScalar[str]:
    """The ids of the series tagged ``tag``, as a subquery (indexed by tag)."""
    return select(TaskTag.series_id).where(TaskTag.tag == tag)
