"""The dependency graph: which task runs after which (``--after``), kept as edges (docs/dependencies.md).

The series' own definition keeps its upstreams and rule too (``content["after"]``, ``content["when"]``, shown by
listings and copied onto each occurrence); the ``dependencies`` table mirrors them as edges, so that an ending
finds the tasks waiting on it by an index, and the graph can be read and checked for cycles as a whole.

Changes of the graph are serialized (:func:`lock_graph`), so two changes made at once on two hosts cannot each
pass the cycle check and together close a cycle.
"""

from __future__ import annotations

import graphlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, text, update
from sqlmodel import Session, col, or_, select

from inbox.enums import Status, When
from inbox.errors import InvalidInput, NotFound
from inbox.store import queries
from inbox.store.lookup import find_series_id, latest_row
from inbox.store.trigger_tables import Dependency
from inbox.validation import MAX_UPSTREAMS

_GRAPH_LOCK = 0x1B0C_DE95  # the PostgreSQL advisory lock every change of the graph takes (any constant will do)


def resolve(db: Session, idents: Sequence[str], *, field: str = "after") -> list[str]:
    """The series ids of the tasks ``idents`` name (series ids, occurrence ids, unique prefixes or names), without
    repeats, in their first order; a name that finds nothing, or a cancelled task, is refused naming ``field``."""
    if len(idents) > MAX_UPSTREAMS:
        raise InvalidInput(field, f"{len(idents)} tasks; a task runs after at most {MAX_UPSTREAMS}")
    found: list[str] = []
    for ident in idents:
        try:
            series_id = find_series_id(db, ident)
        except NotFound:
            raise InvalidInput(field, f"no task {ident!r}") from None
        except InvalidInput as exc:
            raise InvalidInput(field, exc.reason) from None
        head = latest_row(db, series_id)
        if head.status == Status.CANCELLED or head.next_status == Status.CANCELLED:
            raise InvalidInput(field, f"task {label(head.name, series_id)} is cancelled: it will never run again")
        found.append(series_id)
    return list(dict.fromkeys(found))


def label(name: str | None, series_id: str) -> str:
    """How a message names a task: ``digest (01M9…)``, or its id alone."""
    return f"{name} ({series_id})" if name else series_id


def lock_graph(db: Session) -> None:
    """Hold the graph still until the transaction ends. SQLite needs nothing: a writer holds the whole store."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GRAPH_LOCK})


def check_acyclic(db: Session, downstream_id: str, upstream_ids: Sequence[str]) -> None:
    """Refuse (naming the cycle, in run order) upstreams that would make ``downstream_id`` wait on itself."""
    graph: dict[str, set[str]] = {}
    for down, up in db.exec(select(Dependency.downstream_id, Dependency.upstream_id)).all():
        if down != downstream_id:
            graph.setdefault(down, set()).add(up)
    graph[downstream_id] = set(upstream_ids)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        ring: list[str] = list(exc.args[1])[:-1]  # each node runs before the next; the last before the first
        start = ring.index(downstream_id) if downstream_id in ring else 0  # told from the task being changed
        cycle = [*ring[start:], *ring[:start], ring[start]]
        names = queries.series_names(db, cycle)
        raise InvalidInput(
            "after", "would close a cycle: " + " → ".join(names.get(node, node) for node in cycle)
        ) from None


def replace(db: Session, downstream_id: str, upstream_ids: Sequence[str], when: When, *, now: datetime) -> None:
    """``downstream_id`` runs after ``upstream_ids`` (none: after nothing) under ``when`` from now on.

    An upstream it kept keeps the ending it already holds for the next round; a new one starts with none."""
    lock_graph(db)
    if upstream_ids:
        check_acyclic(db, downstream_id, upstream_ids)
    kept = set(upstream_ids)
    mine = col(Dependency.downstream_id) == downstream_id
    db.execute(delete(Dependency).where(mine, col(Dependency.upstream_id).not_in(kept)))
    db.execute(update(Dependency).where(mine).values(when=when))
    present = set(db.exec(select(Dependency.upstream_id).where(mine)).all())
    for upstream_id in upstream_ids:
        if upstream_id not in present:
            db.add(Dependency(downstream_id=downstream_id, upstream_id=upstream_id, when=when, created_at=now))
    db.flush()


def merged(db: Session, series_id: str, after: Sequence[str] | None, when: When | None) -> tuple[tuple[str, ...], When]:
    """A change's upstreams and rule, what it leaves out being the task's current one."""
    current = upstreams(db, series_id)
    if after is None and not current:
        raise InvalidInput("when", "the task waits for no task; give the tasks (after) with it", mentions=("after",))
    kept = tuple(after) if after is not None else tuple(edge.upstream_id for edge in current)
    return kept, when or (When(current[0].when) if current else When.ALL_SUCCESS)


def upstreams(db: Session, series_id: str, *, lock: bool = False) -> list[Dependency]:
    """The edges into ``series_id``, by upstream id."""
    query = select(Dependency).where(Dependency.downstream_id == series_id).order_by(col(Dependency.upstream_id))
    return list(db.exec(query.with_for_update() if lock else query).all())


def downstream_ids(db: Session, series_id: str) -> list[str]:
    """The tasks that run after ``series_id``, sorted (the order every ending locks them in)."""
    query = select(Dependency.downstream_id).where(Dependency.upstream_id == series_id)
    return sorted(db.exec(query).all())


def with_downstreams(db: Session, series_ids: set[str]) -> set[str]:
    """Which of ``series_ids`` some task runs after, for a whole batch of endings. A store with no dependency at all
    (most) answers from one probe of the table; the lookup by id costs 1 to 5 ms per 500 ids."""
    if not series_ids or not db.exec(select(exists().select_from(Dependency))).one():
        return set()
    query = select(Dependency.upstream_id).where(col(Dependency.upstream_id).in_(sorted(series_ids))).distinct()
    return set(db.exec(query).all())


def component(db: Session, series_id: str | None) -> list[Dependency]:
    """Every edge (``series_id`` None), or the edges of the part of the graph ``series_id`` is connected to."""
    if series_id is None:
        return list(db.exec(select(Dependency).order_by(col(Dependency.upstream_id))).all())
    seen, frontier, edges = {series_id}, {series_id}, {}
    while frontier:
        touching = or_(col(Dependency.upstream_id).in_(frontier), col(Dependency.downstream_id).in_(frontier))
        found = db.exec(select(Dependency).where(touching)).all()
        for edge in found:
            edges[(edge.upstream_id, edge.downstream_id)] = edge
        frontier = {node for edge in found for node in (edge.upstream_id, edge.downstream_id)} - seen
        seen |= frontier
    return [edges[key] for key in sorted(edges)]
