"""Rounds of a task that runs after others (``--after``): what an upstream's ending does to the tasks waiting on it.

The rules (docs/dependencies.md):

* Each edge (downstream, upstream) keeps the upstream's latest ending since the downstream's last round; a later
  ending of the same upstream replaces an earlier one.
* ``all_success`` and ``all_done``: a round is due once every upstream has an ending. ``all_done`` runs it;
  ``all_success`` runs it when each of those endings is a success (``completed`` or ``silent``), else the round
  ends ``upstream_failed`` at once, naming the upstreams that did not succeed.
* ``any_success``: a round is due at the first successful ending, and runs; it takes every ending collected so
  far. When every upstream has ended without a success, the round ends ``upstream_failed``.
* A round takes the endings it was given and clears them: the next round waits for new ones. It is an extra
  occurrence of the downstream (:func:`inbox.store.series.start_extra`), carrying the endings as
  ``data.upstream``; it waits behind an occurrence that is running, as any extra does.
* A paused downstream keeps collecting endings and runs no round; resuming it runs the round that is due, if any.
  An ended or cancelled downstream collects nothing.

Everything happens in the transaction that ends the upstream's occurrence (inbox.store.endings), after the
downstream's live row is locked: every writer of a downstream's edges and rounds holds that lock, so two upstreams
ending at the same moment on two hosts are seen one after the other, and exactly one of them completes the round.
The key (downstream, round) of ``dependency_rounds`` refuses a second row for one round whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from inbox.enums import SUCCESS_OUTCOMES, Outcome, Status, When
from inbox.store import graph, queries
from inbox.store.alerts import tell_paused
from inbox.store.lookup import live_row
from inbox.store.models import MessageIn, Run, clip
from inbox.store.series import pause, start_extra
from inbox.store.trigger_tables import Dependency, DependencyRound

MAX_REPLY_CHARS = 4000  # of each upstream's reply in data.upstream


@dataclass(frozen=True)
class UpstreamEnding:
    """One occurrence of a task that ended, as the tasks after it see it."""

    series_id: str
    message_id: str
    run_id: str | None
    outcome: Outcome
    ended_at: datetime


@dataclass(frozen=True)
class FailedRound:
    """A round that ends ``upstream_failed``: its occurrence (written, pending) and why."""

    message_id: str
    reason: str


def upstream_ended(db: Session, ending: UpstreamEnding, *, now: datetime) -> list[FailedRound]:
    """Record ``ending`` on each task after its series and start the rounds it completes.

    Returns the rounds to end ``upstream_failed`` (the caller ends them, which tells their own downstreams)."""
    failed: list[FailedRound] = []
    for downstream_id in graph.downstream_ids(db, ending.series_id):
        live = live_row(db, downstream_id, lock=True)  # first: every writer of this task's rounds takes it
        if live is None or live.next_status == Status.CANCELLED:
            continue  # ended or cancelled: no round will ever run
        edges = _edges(db, downstream_id)
        edge = next((e for e in edges if e.upstream_id == ending.series_id), None)
        if edge is None:
            continue  # the dependency was removed after the edges were looked up
        edge.ended_message_id, edge.ended_run_id = ending.message_id, ending.run_id
        edge.ended_outcome, edge.ended_at = ending.outcome, ending.ended_at
        db.add(edge)
        failed.extend(_round_if_due(db, live, edges, now=now))
    return failed


def ready(db: Session, series_id: str, *, now: datetime) -> list[FailedRound]:
    """Start the round of ``series_id`` that is due (after it was resumed); as :func:`upstream_ended` returns."""
    live = live_row(db, series_id, lock=True)
    if live is None:
        return []
    edges = _edges(db, series_id)
    return _round_if_due(db, live, edges, now=now) if edges else []


def upstream_cancelled(db: Session, cancelled: MessageIn, *, now: datetime) -> None:
    """A task that runs after a cancelled one would wait for ever: it is paused, saying why, until it is given other
    upstreams (``inbox update ID --after ...``) or cancelled too."""
    assert cancelled.series_id is not None
    label = graph.label(cancelled.name, cancelled.series_id)
    for downstream_id in graph.downstream_ids(db, cancelled.series_id):
        live = live_row(db, downstream_id)
        if live is None or Status.PAUSED in (live.status, live.next_status) or live.next_status == Status.CANCELLED:
            continue
        reason = f"upstream task {label} was cancelled"
        pause(db, downstream_id, now=now, reason=reason)
        remedy = f"Give it other upstreams (inbox update {downstream_id} --after ID), then resume it"
        tell_paused(db, live, reason=reason, remedy=remedy, now=now)


def _edges(db: Session, downstream_id: str) -> list[Dependency]:
    # populate_existing: the committed state, read after the lock, never an older copy this session held
    query = select(Dependency).where(Dependency.downstream_id == downstream_id).order_by(col(Dependency.upstream_id))
    return list(db.exec(query.execution_options(populate_existing=True)).all())


def _decide(edges: list[Dependency]) -> tuple[bool, list[Dependency]]:
    """(whether a round is due, the endings that make it ``upstream_failed``: none when it runs)."""
    when = When(edges[0].when)
    ended = [edge for edge in edges if edge.ended_message_id is not None]
    failed = [edge for edge in ended if edge.ended_outcome not in SUCCESS_OUTCOMES]
    everyone = len(ended) == len(edges)
    if when == When.ANY_SUCCESS:
        if len(failed) < len(ended):
            return True, []
        return everyone, failed
    if not everyone:
        return False, []
    return True, failed if when == When.ALL_SUCCESS else []


def _round_if_due(db: Session, live: MessageIn, edges: list[Dependency], *, now: datetime) -> list[FailedRound]:
    if live.status == Status.PAUSED or live.next_status == Status.PAUSED:
        return []  # endings wait for the task to be resumed
    due, failed = _decide(edges)
    if not due:
        return []
    taken = [edge for edge in edges if edge.ended_message_id is not None]
    assert live.series_id is not None
    entries = _entries(db, taken)
    names = {entry["series_id"]: entry["name"] for entry in entries}
    why = ", ".join(f"{graph.label(names.get(e.upstream_id), e.upstream_id)} ended {e.ended_outcome}" for e in failed)
    data = live.content.get("data")
    data = {**data, "upstream": entries} if isinstance(data, dict) else {"upstream": entries}
    extra = start_extra(db, live.series_id, now=now, content={"data": data})
    _record_round(db, live.series_id, extra.id, taken, now=now)
    db.flush()
    return [FailedRound(extra.id, f"upstream {why}")] if failed else []


def _record_round(db: Session, series_id: str, message_id: str, taken: list[Dependency], *, now: datetime) -> None:
    """The round's row (numbered on from the task's last) and the endings it took, cleared from the edges."""
    last = db.exec(
        select(func.coalesce(func.max(DependencyRound.round_no), 0)).where(DependencyRound.downstream_id == series_id)
    ).one()
    took = [{"series_id": e.upstream_id, "message_id": e.ended_message_id, "outcome": e.ended_outcome} for e in taken]
    db.add(
        DependencyRound(
            downstream_id=series_id, round_no=last + 1, message_id=message_id, upstream=took, created_at=now
        )
    )
    for edge in taken:
        edge.ended_message_id = edge.ended_run_id = edge.ended_outcome = edge.ended_at = None
        db.add(edge)


def _entries(db: Session, taken: list[Dependency]) -> list[dict[str, Any]]:
    """``data.upstream``: one entry per upstream ending the round takes, in upstream id order."""
    names = queries.series_names(db, [edge.upstream_id for edge in taken])
    run_ids = [edge.ended_run_id for edge in taken if edge.ended_run_id]
    replies = dict(db.exec(select(Run.id, Run.model_output).where(col(Run.id).in_(run_ids))).all()) if run_ids else {}
    return [
        {
            "series_id": edge.upstream_id,
            "name": names.get(edge.upstream_id),
            "outcome": str(edge.ended_outcome),
            "reply": clip(replies.get(edge.ended_run_id or ""), MAX_REPLY_CHARS),
            "ended_at": edge.ended_at.isoformat() if edge.ended_at else None,
        }
        for edge in taken
    ]
