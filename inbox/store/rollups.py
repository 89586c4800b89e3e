"""Hourly roll-ups of the run history: what the stats page reads, so its cost does not grow with the history.

Once an hour has passed (and :data:`LAG` more, for hosts whose clocks differ a little), a host adds up the runs
that ended in it, per outcome, into ``run_rollups`` (a chore: one host does it for all, sweeper/host.py). The rows
of an hour are written once, by one transaction; the primary key (hour, outcome) refuses a second writer. A window
then reads the roll-ups of its whole hours and adds the runs since the newest roll-up live, which is at most an
hour or two of runs.

Roll-ups are kept as long as run history (``INBOX_KEEP_RUNS_DAYS``) and pruned with it here, so the stats
of a window and its run history agree. A run recorded with an end time already rolled up (a host whose clock is
more than :data:`LAG` behind) is left out of the roll-ups; the run history keeps it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from inbox.store import stats
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import Run
from inbox.store.page_tables import RunRollup

ROLLUPS = "rollups"  # the chore's name
EVERY = timedelta(minutes=1)
LAG = timedelta(minutes=5)
MOST_PER_PASS = timedelta(days=7)  # a first roll-up over a long history takes several passes, not one long one
HOUR = timedelta(hours=1)


def hour_of(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rolled_until(db: Session) -> datetime | None:
    """The end of the newest hour rolled up (the runs after it are read live), or None before the first."""
    newest = db.exec(select(func.max(RunRollup.hour))).one()
    return None if newest is None else newest + HOUR


def roll_up(db: Session, *, now: datetime, keep: timedelta | None = None) -> int:
    """Add up the runs of every whole hour not rolled up yet (at most :data:`MOST_PER_PASS` of them); returns how
    many roll-up rows were written. Prunes roll-ups older than ``keep``."""
    if keep is not None:
        db.exec(delete(RunRollup).where(col(RunRollup.hour) < now - keep))
    start = rolled_until(db)
    if start is None:
        first = db.exec(select(func.min(Run.ended_at))).one()
        if first is None:
            return 0
        start = hour_of(first)
    end = min(hour_of(now - LAG), start + MOST_PER_PASS)
    if end <= start:
        return 0
    dialect = db.get_bind().dialect.name
    ended = col(Run.ended_at)
    hour = func.strftime("%Y-%m-%d %H:00:00", ended) if dialect == "sqlite" else func.date_trunc("hour", ended)
    duration = stats.seconds_between(col(Run.started_at), ended, dialect)
    bucket = stats.bucket_of(duration)
    rows = db.exec(
        select(  # type: ignore[call-overload]
            hour,
            Run.outcome,
            bucket,
            func.count(),
            func.sum(Run.input_tokens),
            func.sum(Run.output_tokens),
            func.sum(duration),
        )
        .where(ended >= start, ended < end)
        .group_by(hour, col(Run.outcome), bucket)
    ).all()
    made: dict[tuple[datetime, str], RunRollup] = {}
    for when, outcome, index, count, spent_in, spent_out, seconds in rows:
        at = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        key = (at.replace(tzinfo=UTC), str(outcome))
        row = made.setdefault(
            key, RunRollup(hour=key[0], outcome=key[1], durations=[0] * (len(stats.DURATION_BUCKETS) + 1))
        )
        row.runs += int(count)
        row.input_tokens += int(spent_in or 0)
        row.output_tokens += int(spent_out or 0)
        row.duration_s += float(seconds or 0.0)
        row.durations = [n + (int(count) if i == int(index) else 0) for i, n in enumerate(row.durations)]
    late = stats.lateness_query(db, ended >= start, ended < end, by=(hour, col(Run.outcome)))
    for when, outcome, index, count, seconds in db.exec(late).all():
        at = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        row = made[(at.replace(tzinfo=UTC), str(outcome))]  # a first attempt is one of the hour's runs
        counted = row.lateness or [0] * (len(stats.LATENESS_BUCKETS) + 1)
        row.lateness = [n + (int(count) if i == int(index) else 0) for i, n in enumerate(counted)]
        row.lateness_s += float(seconds or 0.0)
    if all(at != end - HOUR for at, _ in made):
        # The newest hour had no runs, so no row: an empty one (no outcome) marks where the roll-ups end.
        made[(end - HOUR, "")] = RunRollup(
            hour=end - HOUR, outcome="", durations=[0] * (len(stats.DURATION_BUCKETS) + 1)
        )
    db.add_all(made.values())
    db.flush()
    return len(made)


def rollups_due(engine: Engine, *, now: datetime, keep: timedelta | None = None) -> bool:
    """Whether :func:`roll_up` has anything to do: roll-ups older than ``keep`` to prune, or runs that ended in a
    whole hour not rolled up yet. A read, so a host with nothing to do writes nothing (not even the chore)."""
    with read_transaction(engine) as db:
        if keep is not None:
            old = select(RunRollup.hour).where(col(RunRollup.hour) < now - keep).limit(1)
            if db.exec(old).first() is not None:
                return True
        start = rolled_until(db)
        pending = select(Run.id).where(col(Run.ended_at) < hour_of(now - LAG))
        if start is not None:
            pending = pending.where(col(Run.ended_at) >= start)
        return db.exec(pending.limit(1)).first() is not None


def roll_up_store(engine: Engine, *, now: datetime, keep: timedelta | None = None) -> int:
    """:func:`roll_up` in a transaction of its own: the host's chore (every :data:`EVERY`)."""
    with transaction(engine) as db:
        return roll_up(db, now=now, keep=keep)


def _rolled(db: Session, since: datetime, until: datetime) -> list[Any]:
    """The roll-ups of the hours in ``[since, until)`` as plain rows (a few thousand at most: no ORM objects)."""
    query = select(  # type: ignore[call-overload]
        RunRollup.hour,
        RunRollup.outcome,
        RunRollup.runs,
        RunRollup.input_tokens,
        RunRollup.output_tokens,
        RunRollup.duration_s,
        RunRollup.durations,
    ).where(col(RunRollup.hour) >= since, col(RunRollup.hour) < until, RunRollup.outcome != "")
    return list(db.exec(query).all())


def window(db: Session, *, since: datetime, now: datetime) -> tuple[stats.RunTotals, list[stats.DayTokens]]:
    """The runs that ended since ``since`` (its hour), added up and per UTC day: the roll-ups of the hours done
    (one read), and the runs after them read live."""
    done = rolled_until(db)
    start = hour_of(since)
    if done is None or done <= start:
        return stats.run_totals(db, since=since), stats.per_day(db, since=since)
    by_outcome: dict[str, int] = {}
    buckets = [0] * (len(stats.DURATION_BUCKETS) + 1)
    tokens_in = tokens_out = 0
    seconds = 0.0
    days: dict[date, stats.DayTokens] = {}
    failed = {o.value for o in stats.FAILED_OUTCOMES}
    for hour, outcome, runs, spent_in, spent_out, spent_s, durations in _rolled(db, start, done):
        by_outcome[outcome] = by_outcome.get(outcome, 0) + runs
        tokens_in, tokens_out, seconds = tokens_in + spent_in, tokens_out + spent_out, seconds + spent_s
        buckets = [have + more for have, more in zip(buckets, durations, strict=True)]
        more = stats.DayTokens(hour.date(), runs, runs if outcome in failed else 0, spent_in, spent_out)
        days[more.day] = days[more.day] + more if more.day in days else more
    for later in stats.per_day(db, since=done):
        days[later.day] = days[later.day] + later if later.day in days else later
    rolled = stats.RunTotals(by_outcome, tokens_in, tokens_out, seconds, tuple(buckets))
    return rolled + stats.run_totals(db, since=done), [days[day] for day in sorted(days)]


def lateness(db: Session, *, since: datetime) -> stats.Lateness:
    """How late the first attempts that ended since ``since`` (its hour) started: the roll-ups of the hours done,
    and the runs after them read live (:func:`inbox.store.stats.lateness`)."""
    done = rolled_until(db)
    start = hour_of(since)
    if done is None or done <= start:
        return stats.lateness(db, since=since)
    query = select(RunRollup.lateness, RunRollup.lateness_s).where(
        col(RunRollup.hour) >= start, col(RunRollup.hour) < done, RunRollup.outcome != ""
    )
    buckets = [0] * (len(stats.LATENESS_BUCKETS) + 1)
    seconds = 0.0
    for counted, spent_s in db.exec(query).all():
        if counted:  # empty in hours rolled up before lateness was counted (migration 0020)
            buckets = [have + more for have, more in zip(buckets, counted, strict=True)]
        seconds += spent_s
    live = stats.lateness(db, since=done)
    return stats.Lateness(tuple(a + b for a, b in zip(buckets, live.buckets, strict=True)), seconds + live.sum_s)


def totals(db: Session, *, since: datetime, now: datetime) -> stats.RunTotals:
    return window(db, since=since, now=now)[0]


def per_day(db: Session, *, since: datetime, now: datetime) -> list[stats.DayTokens]:
    return window(db, since=since, now=now)[1]
