"""Events in a chaos run: series that listen (``--on``, some mixed with ``--every``), the events an emitter process
emits while it, the hosts and the runners are killed (tests/chaos/emitter.py), and what must hold of every event
once the run has settled.

The listeners are tasks of the plan (scheduled before the kills, so the general invariants check their every
occurrence); the ones only events start are never paused or cancelled, so every event their patterns match must
have done something to them. Each emission carries ``{"n": N, "key": K}`` as its data, so the store itself tells
which emission made which event. What must hold:

* one match per (event, series), and only for a series whose pattern matches the event (and its session fits);
  every matching series that only events start has one;
* a ``started``/``queued`` match names one occurrence of its series that carries the event's id, and that
  occurrence ended with an outcome (none left pending or running after the drain), each attempt once and at most
  one run with a final outcome; a ``coalesced`` one names none; no occurrence carries an event that has no match
  naming it;
* a series never has more than two event-started occurrences waiting at once (one about to run, one queued
  behind it; the rest coalesce); no overlap of two runs of a series is the general invariant's;
* a key makes one event however often it is emitted again, and every answer to it names that event;
* every emission the emitter was told was done is in the store.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbox.enums import MatchState, Outcome, Status
from inbox.store.models import MessageIn
from tests.chaos.hooks import HOOKS
from tests.chaos.invariants import DUPLICATE, LOSS, RETRY_OUTCOMES, Snapshot, Violation
from tests.chaos.plan import SCRIPTS, Gate, Shape, TaskPlan

NAMES = ("mail.received", "mail.sent", "github.push", "github.pr.opened", "gitlab.push", "deploy.done", "backup-done")
# Some listen for one name two ways: they still start one run per event.
PATTERNS = (
    ("mail.received",),
    ("mail.*",),
    ("mail.*", "mail.received"),
    ("*.push",),
    ("github.**",),
    ("github.**", "*.push"),
    ("deploy.done", "backup-done"),
    ("**",),
    ("hook.*",),  # every webhook's event (tests/chaos/hooks.py)
    ("hook.note", "*.push"),  # hook.push both ways
)
HOOK_SHARE = 0.4  # of the emissions that are not a repeat: webhook calls
WAITING_AT_ONCE = 2  # one about to run and one queued behind it (docs/events.md)
EVENT = "event"  # the kind of violation that is neither a duplicate nor a loss


@dataclass(frozen=True)
class Emission:
    n: int
    at_s: float  # seconds into the chaos window
    name: str
    session: str | None
    key: str | None
    hook: str | None = None  # a call of this hook (POST /v1/hooks/NAME) rather than Inbox.emit

    def data(self) -> dict[str, Any]:
        return {"n": self.n, "key": self.key}


def make_listeners(count: int, *, seed: int, sessions: int = 6) -> list[TaskPlan]:
    """``count`` listening tasks: two thirds only events start, the rest every few seconds as well, with an end."""
    rng = random.Random(seed * 104729 + 3)
    plans = []
    for index in range(count):
        gate = rng.choices([Gate.NONE, Gate.WAKE, Gate.SKIP, Gate.FAIL], weights=[45, 25, 15, 15])[0]
        mixed = rng.random() < 0.35
        patterns = rng.choices(PATTERNS, weights=[3, 3, 2, 3, 3, 2, 3, 1, 3, 2])[0]
        plans.append(
            TaskPlan(
                tag=f"e{index:03d}",
                shape=Shape.EVERY if mixed else Shape.ON,
                session=f"chaos-{rng.randrange(sessions)}",
                create_at_s=0.0,
                gate=gate,
                script=rng.choice(SCRIPTS[gate]) if gate != Gate.NONE else None,
                remind=False,
                retries=rng.choice([1, 3]),
                catch_up="once",
                context=rng.choice([None, "fresh", "series"]),
                interval_s=rng.choice([3, 4, 5]) if mixed else None,
                wanted_runs=rng.randint(2, 6) if mixed else None,
                on=patterns,
            )
        )
    return plans


def make_emissions(count: int, window_s: float, *, seed: int, sessions: int = 6) -> list[Emission]:
    """``count`` emissions over the first 80 % of the window, some in bursts at one instant; a quarter with a new
    key, one in seven the repeat of an earlier keyed one (same name, session and key: a retry); two in five of
    the others are webhook calls, of one of :data:`HOOKS` (whose event and session they then have)."""
    rng = random.Random(seed * 15485863 + 5)
    times = sorted(round(rng.uniform(0.5, max(1.0, window_s * 0.8)), 2) for _ in range(count))
    out: list[Emission] = []
    for n in range(count):
        at = out[-1].at_s if out and rng.random() < 0.3 else times[n]  # a burst: at once with the one before
        keyed = [e for e in out if e.key is not None]
        draw = rng.random()
        if keyed and draw < 0.15:
            first = rng.choice(keyed)
            out.append(Emission(n, at, first.name, first.session, first.key, first.hook))
            continue
        session = f"chaos-{rng.randrange(sessions)}" if rng.random() < 0.4 else None
        key = f"key-{n}" if draw > 0.75 else None
        if rng.random() < HOOK_SHARE:
            hook = rng.choice(HOOKS)
            out.append(Emission(n, at, hook.event, hook.session, key, hook.name))
        else:
            out.append(Emission(n, at, rng.choice(NAMES), session, key))
    return out


def pattern_matches(pattern: str, name: str) -> bool:
    """docs/events.md's table, written again here so a bug in the store's matcher cannot hide itself."""
    words = pattern.split(".")
    parts = ["[^.]+" if w == "*" else ".+" if w == "**" else re.escape(w) for w in words]
    return re.fullmatch(r"\.".join(parts), name) is not None


def listens(task: TaskPlan, name: str, session: str | None) -> bool:
    return (session is None or session == task.session) and any(pattern_matches(p, name) for p in task.on)


def _event_of(row: MessageIn) -> str | None:
    event = (row.content or {}).get("event")
    return str(event["id"]) if isinstance(event, dict) and event.get("id") else None


def check_events(
    snap: Snapshot, listeners: dict[str, TaskPlan], answers: Sequence[dict[str, Any]], planned: Sequence[Emission]
) -> list[Violation]:
    """``listeners`` by series id; ``answers``: the emitter's log, one answer per emission it saw done."""
    return [
        *_check_matches(snap, listeners),
        *_check_occurrences(snap),
        *_check_waiting(snap, listeners),
        *_check_keys(snap, answers, planned),
    ]


def _check_matches(snap: Snapshot, listeners: dict[str, TaskPlan]) -> list[Violation]:
    out = []
    pairs = Counter((m.event_id, m.series_id) for m in snap.matches)
    out += [Violation(DUPLICATE, e, f"{n} matches for series {s}") for (e, s), n in pairs.items() if n > 1]
    for match in snap.matches:
        event, task = snap.events.get(match.event_id), listeners.get(match.series_id)
        if event is None:
            out.append(Violation(EVENT, match.event_id, f"a match of series {match.series_id}, but no such event"))
        elif task is None or not listens(task, event.name, event.session):
            out.append(Violation(EVENT, event.id, f"{event.name} matched series {match.series_id}, not listening"))
        out.extend(_check_match_row(snap, match.event_id, match.series_id, MatchState(match.state), match.message_id))
    always = {sid: task for sid, task in listeners.items() if task.shape == Shape.ON}
    for event in snap.events.values():
        for series_id, task in always.items():
            if listens(task, event.name, event.session) and (event.id, series_id) not in pairs:
                out.append(Violation(LOSS, event.id, f"{event.name} did nothing to series {series_id} listening"))
    return out


def _check_match_row(
    snap: Snapshot, event_id: str, series_id: str, state: MatchState, message_id: str | None
) -> list[Violation]:
    if state == MatchState.COALESCED:
        return [] if message_id is None else [Violation(EVENT, event_id, f"coalesced but names {message_id}")]
    row = snap.rows.get(message_id or "")
    if row is None:
        return [Violation(LOSS, event_id, f"{state} series {series_id}, but no occurrence {message_id}")]
    if row.series_id != series_id or _event_of(row) != event_id:
        return [Violation(EVENT, event_id, f"{state} {row.id}, of series {row.series_id} event {_event_of(row)}")]
    status = Status(row.status)
    if status in (Status.PENDING, Status.RUNNING):
        return [Violation(LOSS, row.id, f"started by event {event_id}, left {status} after the drain")]
    history = snap.runs.get(row.id, [])
    if status != Status.CANCELLED and snap.final_run(row) is None:
        return [Violation(LOSS, row.id, f"started by event {event_id}, {status} with no outcome")]
    endings = Counter(run.attempt for run in history if Outcome(run.outcome) not in RETRY_OUTCOMES)
    if sum(endings.values()) > 1 or any(n > 1 for n in Counter(run.attempt for run in history).values()):
        return [Violation(DUPLICATE, row.id, f"started by event {event_id}, runs {[r.outcome for r in history]}")]
    return []


def _check_occurrences(snap: Snapshot) -> list[Violation]:
    """Every occurrence an event started is named by that event's match, once."""
    named = {m.message_id for m in snap.matches if m.message_id}
    carried = Counter((event_id, row.series_id) for row in snap.rows.values() if (event_id := _event_of(row)))
    out = [Violation(DUPLICATE, e, f"{n} occurrences of series {s}") for (e, s), n in carried.items() if n > 1]
    for row in snap.rows.values():
        if (event_id := _event_of(row)) and row.id not in named:
            out.append(Violation(EVENT, row.id, f"started by event {event_id}, but no match names it"))
    return out


def _check_waiting(snap: Snapshot, listeners: dict[str, TaskPlan]) -> list[Violation]:
    """At most two event-started occurrences of a series wait at once: each waits from its writing at least until
    its first run starts (a retry waits again; leaving that out only makes the count smaller)."""
    edges: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for row in snap.rows.values():
        if row.series_id in listeners and _event_of(row):
            runs = snap.runs.get(row.id, [])
            until = min((run.started_at for run in runs), default=snap.settled_at)
            edges[row.series_id] += [(row.created_at, 1), (until, -1)]
    out = []
    for series_id, points in edges.items():
        waiting, most = 0, 0
        for _, step in sorted(points, key=lambda p: (p[0], p[1])):  # an end before a start at one instant
            waiting += step
            most = max(most, waiting)
        if most > WAITING_AT_ONCE:
            out.append(Violation(EVENT, series_id, f"{most} event-started occurrences waiting at once"))
    return out


def _check_keys(snap: Snapshot, answers: Sequence[dict[str, Any]], planned: Sequence[Emission]) -> list[Violation]:
    out = []
    by_key: dict[str, list[str]] = defaultdict(list)
    for event in snap.events.values():
        key = (event.data or {}).get("key") if isinstance(event.data, dict) else None
        if key is not None:
            by_key[key].append(event.id)
            if event.key != key:
                out.append(Violation(EVENT, event.id, f"emitted with key {key}, recorded with {event.key}"))
    out += [Violation(DUPLICATE, k, f"one key, {len(ids)} events: {ids}") for k, ids in by_key.items() if len(ids) > 1]
    told = {emission.n: emission for emission in planned}
    for answer in answers:
        emission = told[answer["n"]]
        if answer["id"] not in snap.events:
            out.append(Violation(LOSS, answer["id"], f"emission {emission.n} answered, but no such event"))
        elif emission.key is not None and by_key.get(emission.key) != [answer["id"]]:
            out.append(Violation(DUPLICATE, emission.key, f"emission {emission.n} answered {answer['id']}"))
    missing = sorted(set(told) - {answer["n"] for answer in answers})
    if missing:
        out.append(Violation(LOSS, "emitter", f"{len(missing)} emissions never done: {missing[:10]}"))
    return out
