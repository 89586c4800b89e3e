"""What a claim walks: the due rows of every open lane and priority, oldest first, through the claim index.

Priorities with aging (docs/limits.md): a due row's *standing* is its priority plus one step per whole 5 minutes it
has waited since it fell due. Claims take the highest standing first, then the oldest. Standing depends on the
time, so no index can hold it; but within one lane (``gate``) and one priority, the oldest due row also stands
highest. So a claim of ``n`` rows reads at most ``n`` rows per priority present in each open lane, through the
index (gate, priority, process_after, id) of pending rows: its cost follows the rows it claims and the number of
priorities in use (at most 21), never the backlog. The priorities present are found by a skip scan of that index
(one probe per priority), not by reading the rows.

SQLite: two statements, whatever the number of lanes: one finds the priorities present in every open lane, the
other reads each (lane, priority)'s first rows, all of them in one ``UNION ALL``, in claim order. PostgreSQL: one
statement of fixed text does both, a lateral read per lane and priority (see _lateral_query). A statement per lane
and priority (66 with 10 limited tags open) cost more in per-statement overhead than the database took to run
them (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    CursorResult,
    Integer,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from inbox.enums import Status
from inbox.store.filters import FOR_A_RUNNER, HOST_DELIVERS, HOST_REQUESTS, PENDING, PLAIN_HOST_REQUESTS
from inbox.store.models import MessageIn

AGING_STEP = timedelta(minutes=5)
# PostgreSQL: the lock a claimer takes on a series before it starts an occurrence of it (inbox.store.taking), for the
# rest of its transaction; None when another claimer holds it.
SERIES_LOCK = "pg_try_advisory_xact_lock(hashtext('inbox.series.' || {series}))"
MAX_ARMS = 400  # lanes and priorities read by one statement; more (over 19 open limits, 21 priorities each) take two
_STEP_US = AGING_STEP // timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]
_RUNNING = aliased(_TABLE, name="running")
# The series with a running row: no other occurrence of them may start (two never run together). Read once per
# claim, as one list every lane and priority looks rows up in, rather than per candidate row: SQLite answered the
# correlated form through the index of statuses, reading every running row again for each candidate.
_BUSY = (
    select(_RUNNING.c.series_id)
    .where(_RUNNING.c.status == literal_column(f"'{Status.RUNNING.value}'"), _RUNNING.c.series_id.is_not(None))
    .cte("busy")
)
_IDLE_SERIES = or_(_TABLE.c.series_id.is_(None), _TABLE.c.series_id.not_in(select(_BUSY.c.series_id)))
# PostgreSQL: read once for the whole statement. Inlined into the lateral read, its cost was counted once per lane
# and priority, which lifted the estimate past the threshold of compiling the query (JIT: docs/benchmarks.md).
_BUSY_ONCE = _BUSY.element.cte("busy").prefix_with("MATERIALIZED")
_IDLE_SERIES_ONCE = or_(_TABLE.c.series_id.is_(None), _TABLE.c.series_id.not_in(select(_BUSY_ONCE.c.series_id)))
# When a row fell due, in whole microseconds since 1970, as each database stores it (SQLite: ISO text with six
# decimals): standing is then integer arithmetic, exact at every 5-minute step as the rule says.
_DUE_US = {
    "sqlite": "CAST(strftime('%s', messages_in.process_after) AS INTEGER) * 1000000"
    " + CAST(substr(messages_in.process_after, 21, 6) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM messages_in.process_after) * 1000000 AS BIGINT)",
}


# What a claim may take: ``any`` due row; ``reminders`` or ``http`` (the host's own work, inbox.store.filters), or
# the plain part of the latter (``plain_http``); ``runner``: any row but the host's http requests.
Work = Literal["any", "reminders", "http", "plain_http", "runner"]
_ONLY: dict[str, ColumnElement[bool]] = {
    "reminders": HOST_DELIVERS,
    "http": HOST_REQUESTS,
    "plain_http": PLAIN_HOST_REQUESTS,
    "runner": ~HOST_REQUESTS,
}


class Candidate(NamedTuple):
    """A due row as a claim weighs it: what its order and its limits need, not the whole row."""

    id: str
    series_id: str | None
    priority: int
    process_after: datetime
    tags: list[str] | None
    plain: bool  # no recurrence, not an extra occurrence: neither catch-up nor active hours weighs it
    # PostgreSQL: whether the lane read took this claim's lock on the row's series (inbox.store.taking), or could
    # not (another claimer holds it); None when it did not try.
    series_lock: bool | None = None


@cache
def levels_query(lanes: int) -> TextClause:
    """The priorities present among the pending rows of ``lanes`` lanes (bound as g0, g1, ...), highest first
    within each: each step one probe of the claim index."""
    seeds = ", ".join(f"(:g{index})" for index in range(lanes))
    return text(
        f"WITH RECURSIVE lanes(g) AS (VALUES {seeds}), levels(g, p) AS ("
        " SELECT g, (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = lanes.g"
        "  ORDER BY priority DESC LIMIT 1) FROM lanes"
        " UNION ALL"
        " SELECT g, (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = levels.g"
        "  AND priority < levels.p ORDER BY priority DESC LIMIT 1) FROM levels WHERE levels.p IS NOT NULL"
        ") SELECT g, p FROM levels WHERE p IS NOT NULL"
    )


def _standing(dialect: str) -> ColumnElement[int]:
    """Priority plus whole aging steps waited by ``now_us``: integer division, which rounds down as the rule
    says since every row read is due (the wait is never negative)."""
    waited = bindparam("now_us", type_=BigInteger) - literal_column(f"({_DUE_US[dialect]})", BigInteger)
    steps = waited.self_group().op("/", return_type=BigInteger)(literal_column(str(_STEP_US), BigInteger))
    standing: ColumnElement[int] = (_TABLE.c.priority + steps).label("standing")
    return standing


# What a candidate is read with (Candidate's fields, before its standing).
_CANDIDATE_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.series_id,
    _TABLE.c.priority,
    _TABLE.c.process_after,
    _TABLE.c.tags,
    and_(_TABLE.c.recurrence.is_(None), _TABLE.c.is_extra.is_(False)).label("plain"),
)
_FIELDS = len(_CANDIDATE_COLUMNS)


def _due_by(early: bool) -> ColumnElement[bool]:
    """Due by ``now``; with ``early``, also a runner's own row due by ``horizon`` (claimed ahead of its time, see
    inbox.defaults.CLAIM_AHEAD). Either way one range of the claim index, up to the later bound: what it reads
    beyond the due rows is the rows of the next ``CLAIM_AHEAD``."""
    due: ColumnElement[bool] = _TABLE.c.process_after <= bindparam("now", type_=_TABLE.c.process_after.type)
    if not early:
        return due
    soon = _TABLE.c.process_after <= bindparam("horizon", type_=_TABLE.c.process_after.type)
    return and_(soon, or_(due, FOR_A_RUNNER))


def _arm(index: int, dialect: str, by_session: bool, work: Work, early: bool = False) -> Select[Any]:
    """The first due rows of one lane and priority (bound as g<index>, p<index>, n<index>), oldest first."""
    query = (
        select(*_CANDIDATE_COLUMNS, _standing(dialect))
        .where(
            PENDING,  # spelled out: only a literal lets the planners use the claim index, which holds pending rows
            _TABLE.c.gate == bindparam(f"g{index}"),
            _TABLE.c.priority == bindparam(f"p{index}"),
            _due_by(early),
            _IDLE_SERIES,
        )
        .order_by(_TABLE.c.process_after, _TABLE.c.id)
        .limit(bindparam(f"n{index}"))
    )
    if by_session:
        query = query.where(_TABLE.c.session == bindparam("session"))
    if work in _ONLY:
        query = query.where(_ONLY[work])
    if dialect == "postgresql":  # lock what is read, skipping rows other claimers hold
        query = query.with_for_update(skip_locked=True, of=_TABLE)
    return query


# PostgreSQL: the lanes (bound as arrays ``gates`` and ``counts``) and the priorities present in each, found by the
# same skip scan as levels_query, inside the statement that reads the rows.
_LEVELS = (
    text(
        "SELECT g, n, (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = lanes.g"
        " ORDER BY priority DESC LIMIT 1) AS p"
        " FROM unnest(CAST(:gates AS text[]), CAST(:counts AS integer[])) AS lanes(g, n)"
        " UNION ALL"
        " SELECT g, n, (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = levels.g"
        " AND priority < levels.p ORDER BY priority DESC LIMIT 1) FROM levels WHERE levels.p IS NOT NULL"
    )
    .columns(column("g", String), column("n", Integer), column("p", Integer))
    .cte("levels", recursive=True)
)


@cache
def _lateral_query(by_session: bool, work: Work, early: bool = False) -> Select[Any]:
    """PostgreSQL: every lane and priority's first due rows in one statement whose text does not grow with them,
    each read (and locked) by one ranged scan of the claim index joined laterally to its lane and priority. The
    ``UNION ALL`` of an arm per lane and priority cost PostgreSQL more to parse and plan than to run (figures in
    docs/benchmarks.md, "Claims"), and that text is planned anew on every claim: a claim's transaction may end
    in a rollback, which drops the driver's prepared statements."""
    arm = (
        select(*_CANDIDATE_COLUMNS, _standing("postgresql"))
        .where(
            PENDING,
            _TABLE.c.gate == _LEVELS.c.g,
            _TABLE.c.priority == _LEVELS.c.p,
            _due_by(early),
            _IDLE_SERIES_ONCE,
        )
        .order_by(_TABLE.c.process_after, _TABLE.c.id)
        .limit(_LEVELS.c.n)
    )
    if by_session:
        arm = arm.where(_TABLE.c.session == bindparam("session"))
    if work in _ONLY:
        arm = arm.where(_ONLY[work])
    lane = arm.with_for_update(skip_locked=True, of=_TABLE).lateral("lane")
    order = (lane.c.standing.desc(), lane.c.process_after, lane.c.id)
    # The series of the first ``lock_first`` rows in claim order are locked here (those a claim most often takes):
    # the statement that would lock them after the choice is then seldom needed.
    first = and_(func.row_number().over(order_by=order) <= bindparam("lock_first"), lane.c.series_id.is_not(None))
    lock = case((first, literal_column(SERIES_LOCK.format(series="lane.series_id"))), else_=null())
    return (
        select(*lane.c, lock.label("series_lock"))
        .select_from(_LEVELS.join(lane, true()))
        .where(_LEVELS.c.p.is_not(None))
        .order_by(*order)
    )


@lru_cache(maxsize=256)
def _candidates_query(arms: int, dialect: str, by_session: bool, work: Work, early: bool) -> CompoundSelect[Any]:
    """Built once per shape (building it costs more than running it): every arm's rows in claim order, highest
    standing first, then the oldest due, then the oldest row."""
    selects = []
    for index in range(arms):
        lane = _arm(index, dialect, by_session, work, early).subquery(f"lane{index}")
        selects.append(select(*lane.c))  # each arm its own subquery: its LIMIT (and lock) stays its own
    order: list[ColumnElement[Any]] = [
        literal_column("standing").desc(),
        literal_column("process_after"),
        literal_column("id"),
    ]
    return union_all(*selects).order_by(*order)


@contextmanager
def due_candidates(
    db: Session,
    lanes: Sequence[tuple[str, int]],
    *,
    now: datetime,
    session: str | None,
    work: Work,
    horizon: datetime | None = None,
) -> Iterator[Iterator[Candidate]]:
    """Up to each lane's count of due rows per priority present in it (``lanes``: gate and how many it may give),
    in claim order. On SQLite the rows are turned into candidates as the claim reaches them. PostgreSQL's driver
    reads them at once, and locks them (skipping rows other claimers hold).

    With ``horizon`` (after ``now``), a runner's own rows (inbox.store.filters.FOR_A_RUNNER) due by then count too:
    they come after the due rows of their priority, and their standing is their priority (their wait is negative,
    and the integer division rounds it to zero)."""
    open_lanes = [(gate, count) for gate, count in lanes if count > 0]
    if not open_lanes:
        yield iter(())
        return
    connection = db.connection()
    params: dict[str, Any] = {"now": now, "now_us": (now - _EPOCH) // timedelta(microseconds=1)}
    early = horizon is not None and horizon > now
    if early:
        params["horizon"] = horizon
    if session is not None:
        params["session"] = session
    if connection.dialect.name == "postgresql":
        params.update(gates=[gate for gate, _ in open_lanes], counts=[count for _, count in open_lanes])
        params["lock_first"] = 2 * max(count for _, count in open_lanes)
        result = connection.execute(_lateral_query(session is not None, work, early), params)
        try:
            yield (Candidate._make((*row[:_FIELDS], row[-1])) for row in result)
        finally:
            result.close()
        return
    counts = dict(open_lanes)
    found = connection.execute(levels_query(len(open_lanes)), {f"g{i}": g for i, (g, _) in enumerate(open_lanes)})
    levels = found.all()
    if not levels:
        yield iter(())
        return
    dialect = connection.dialect.name
    results: list[CursorResult[Any]] = []
    try:
        for start in range(0, len(levels), MAX_ARMS):  # SQLite takes at most 500 arms in one compound statement
            chunk = levels[start : start + MAX_ARMS]
            query = _candidates_query(len(chunk), dialect, session is not None, work, early)
            for index, (gate, level) in enumerate(chunk):
                params.update({f"g{index}": gate, f"p{index}": level, f"n{index}": counts[gate]})
            results.append(connection.execute(query, params))
        rows: Iterable[Any] = results[0]
        if len(results) > 1:  # each chunk comes in claim order: merged in the same order
            rows = heapq.merge(*results, key=lambda row: (-row[_FIELDS], row[3], row[0]))
        yield (Candidate(*row[:_FIELDS]) for row in rows)
    finally:
        for result in results:
            result.close()  # what the claim did not reach: SQLite stops reading it here
