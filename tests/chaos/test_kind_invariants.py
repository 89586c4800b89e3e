"""The checks of http and command tasks under a tag limit: a clean history passes, and each kind of damage is
reported.

Two tasks tagged ``work`` (an ``http`` one and a ``command`` one) run through the store's own claim and ending
functions (what a runner's report does), their side effects written down as the receiver and the command file
would; then one thing is broken, as a bug would break it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from inbox import Inbox
from inbox.enums import Outcome
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.chaos.kinds import LIMIT, LIMIT_TAG, Kind, KindTask, Seen, check_kinds, check_limit
from tests.chaos.plan import Gate, Shape, TaskPlan
from tests.conftest import Clock
from tests.integration.helpers import claim, end

History = tuple[dict[str, KindTask], list[Seen], list[Seen]]  # tasks by series id, requests, command lines


def _task(tag: str, kind: Kind) -> KindTask:
    plan = TaskPlan(tag, Shape.ONE_SHOT, "main", 0, Gate.NONE, None, False, 0, "once", None, at_s=1)
    return KindTask(plan, kind)


def _history(inbox: Inbox, clock: Clock) -> tuple[History, Snapshot]:
    """Both tasks run one after the other, each once; the receiver and the command file saw their work."""
    http = inbox.schedule("ping", in_="1s", do="http", with_={"url": "http://127.0.0.1:9/k"}, tags=[LIMIT_TAG])
    command = inbox.schedule("copy", in_="1s", do="command", with_={"argv": ["true"]}, tags=[LIMIT_TAG])
    tasks = {http.series_id: _task("k000", Kind.HTTP), command.series_id: _task("k001", Kind.COMMAND)}
    clock.advance(seconds=2)
    requests: list[Seen] = []
    lines: list[Seen] = []
    for row in claim(inbox, limit=10):
        task = tasks[row.series_id or ""]
        started = clock.now
        clock.advance(seconds=1)
        seen = Seen(row.id, started.timestamp() + 0.1, clock.now.timestamp() - 0.1)
        (requests if task.kind == Kind.HTTP else lines).append(seen)
        end(inbox, row.id, started_at=started, model_output=task.output(row.id))
    return (tasks, requests, lines), Snapshot.load(inbox.engine, settled_at=clock.now)


def _found(snap: Snapshot, history: History) -> list[Violation]:
    tasks, requests, lines = history
    return [*check_kinds(snap, tasks, requests, lines), *check_limit(snap, tasks, [*requests, *lines])]


def _done_twice(snap: Snapshot, history: History) -> History:
    tasks, requests, lines = history
    return tasks, [*requests, requests[0]], lines


def _never_done(snap: Snapshot, history: History) -> History:
    tasks, requests, _ = history
    return tasks, requests, []


def _refused_only(snap: Snapshot, history: History) -> History:
    tasks, requests, lines = history
    return tasks, [Seen(s.key, s.start, s.end, accepted=False) for s in requests], lines


def _someone_elses(snap: Snapshot, history: History) -> History:
    tasks, requests, lines = history
    return tasks, requests, [*lines, Seen("01NOSUCHOCCURRENCE", 0.0, 0.1)]


def _too_many_seen_at_once(snap: Snapshot, history: History) -> History:
    tasks, requests, lines = history
    extra = [Seen(f"x{i}", 10.0, 11.0) for i in range(3)]
    return tasks, requests, [*lines, *extra]


def _crossed_output(snap: Snapshot, history: History) -> History:
    for runs in snap.runs.values():
        runs[-1].model_output = "ok 01SOMEONEELSE"
    return history


def _ended_skipped(snap: Snapshot, history: History) -> History:
    for runs in snap.runs.values():
        runs[-1].outcome = Outcome.SKIPPED
    return history


def _runs_overlapping(snap: Snapshot, history: History) -> History:
    runs = [r for history_ in snap.runs.values() for r in history_]
    base = runs[0].started_at
    for run in runs:
        run.started_at, run.ended_at = base, base + timedelta(seconds=5)
    extra = runs[0].model_copy(update={"id": "extra"})
    snap.runs.setdefault("extra", []).append(extra)  # a third run of a tagged task at the same time
    return history


@pytest.mark.parametrize(
    ("damage", "kind", "words"),
    [
        (_done_twice, DUPLICATE, "2 http side effects, 1 runs"),
        (_never_done, LOSS, "its command work was never done"),
        (_refused_only, LOSS, "its http work was never done"),
        (_someone_elses, LOSS, "for no command task's occurrence"),
        (_crossed_output, "outcome", "completed with output 'ok 01SOMEONEELSE'"),
        (_ended_skipped, "outcome", "ended skipped"),
        (_runs_overlapping, LIMIT, "3 runs at once by their recorded times"),
        (_too_many_seen_at_once, LIMIT, "3 executions at once"),
    ],
)
def test_each_kind_of_damage_is_reported(
    inbox: Inbox, clock: Clock, damage: Callable[[Snapshot, History], History], kind: str, words: str
) -> None:
    history, snap = _history(inbox, clock)
    assert _found(snap, history) == []
    found = _found(snap, damage(snap, history))
    assert any(v.kind == kind and words in v.detail for v in found), found
