"""The figures a chaos run reports: what was scheduled, what ran, what was killed, and what broke."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbox.enums import Outcome
from tests.chaos.chains import ScheduledChain
from tests.chaos.cluster import KillLog
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation
from tests.chaos.plan import ScheduledTask


@dataclass(frozen=True)
class Figures:
    backend: str
    tasks: int
    tasks_by_shape: dict[str, int]
    occurrences: int  # rows of the tasks' series, run-now and missed-slot records included
    runs_by_outcome: dict[str, int]  # every attempt
    endings_by_outcome: dict[str, int]  # the last run of each ended occurrence
    retries_spent: int  # occurrences that ended failed once their retries were spent
    live_at_end: int
    cancelled: int  # occurrences cancelled while waiting: they have no ending
    chains: int  # dependency chains of three tasks
    rounds_by_outcome: dict[str, int]  # the endings of the rounds of the tasks after another
    listeners: int  # tasks listening for events
    events: int  # events recorded in the store
    key_repeats: int  # emissions answered with an earlier event of their key (nothing started)
    matches_by_state: dict[str, int]  # what each event did to each listening series
    event_endings: dict[str, int]  # the endings of the occurrences events started
    emitter_kills: int
    hook_calls: int  # emissions made as webhook calls, answered 202
    hook_retries: int  # of them, calls made again at another host after their host was killed
    hook_events: int  # events recorded from webhook calls
    hook_messages: int  # chat messages dropped by the --message hook
    host_kills: int
    runner_kills: int
    db_restarts: int
    duplicates: int
    losses: int
    other_violations: int
    chaos_s: float
    settle_s: float
    wall_s: float
    started: datetime

    def lines(self) -> list[str]:
        def counts(values: dict[str, int]) -> str:
            return ", ".join(f"{key} {value}" for key, value in sorted(values.items())) or "none"

        return [
            f"backend:      {self.backend}   (started {self.started.isoformat(timespec='seconds')})",
            f"tasks:        {self.tasks} ({counts(self.tasks_by_shape)})",
            f"occurrences:  {self.occurrences} ({self.live_at_end} live at the end, {self.cancelled} cancelled)",
            f"runs:         {sum(self.runs_by_outcome.values())} ({counts(self.runs_by_outcome)})",
            f"endings:      {sum(self.endings_by_outcome.values())} ({counts(self.endings_by_outcome)})",
            f"retries spent: {self.retries_spent} occurrences ended failed after their last retry",
            f"chains:       {self.chains}, rounds {sum(self.rounds_by_outcome.values())} "
            f"({counts(self.rounds_by_outcome)})",
            f"events:       {self.events} for {self.listeners} listening tasks, {self.key_repeats} key repeats; "
            f"matches {counts(self.matches_by_state)}; endings {counts(self.event_endings)}",
            f"webhooks:     {self.hook_calls} calls answered ({self.hook_retries} made again at another host), "
            f"{self.hook_events} events, {self.hook_messages} messages",
            f"kills:        {self.host_kills} hosts, {self.runner_kills} runners, {self.emitter_kills} emitters "
            "(SIGKILL)",
            f"db restarts:  {self.db_restarts}",
            f"duplicates:   {self.duplicates}",
            f"losses:       {self.losses}",
            f"other violations: {self.other_violations}",
            f"time:         {self.chaos_s:.0f} s of chaos, {self.settle_s:.0f} s to settle, {self.wall_s:.0f} s in all",
        ]


def compute(
    snap: Snapshot,
    tasks: list[ScheduledTask],
    chains: list[ScheduledChain],
    violations: list[Violation],
    kills: KillLog,
    *,
    backend: str,
    started: datetime,
    chaos_s: float,
    settle_s: float,
    wall_s: float,
    listeners: int = 0,
    answers: list[dict[str, Any]] | None = None,
    emitter_kills: int = 0,
) -> Figures:
    ours = {task.series_id for task in tasks}
    rows = [row for row in snap.rows.values() if row.series_id in ours]
    runs = [run for row in rows for run in snap.runs.get(row.id, [])]
    finals = [final for row in rows if (final := snap.final_run(row)) is not None]
    kinds = Counter(v.kind for v in violations)
    after = {series_id for chain in chains for series_id in chain.after_ids}
    rounds = [snap.rows.get(r.message_id) for downstream in after for r in snap.rounds.get(downstream, [])]
    by_events = {m.message_id for m in snap.matches if m.message_id}
    event_endings = [f for m in by_events if (row := snap.rows.get(m)) and (f := snap.final_run(row)) is not None]
    calls = [answer for answer in answers or [] if answer.get("hook")]
    round_endings = [final for row in rounds if row is not None and (final := snap.final_run(row)) is not None]
    return Figures(
        backend=backend,
        tasks=len(tasks),
        tasks_by_shape=dict(Counter(str(task.plan.shape) for task in tasks)),
        occurrences=len(rows),
        runs_by_outcome=dict(Counter(str(run.outcome) for run in runs)),
        endings_by_outcome=dict(Counter(str(run.outcome) for run in finals)),
        retries_spent=sum(run.outcome in (Outcome.INTERRUPTED, Outcome.FAILED) for run in finals),
        live_at_end=sum(row.status in ("pending", "running", "paused") for row in rows),
        cancelled=sum(row.status == "cancelled" for row in rows),
        chains=len(chains),
        rounds_by_outcome=dict(Counter(str(run.outcome) for run in round_endings)),
        listeners=listeners,
        events=len(snap.events),
        key_repeats=sum(bool(answer["duplicate"]) for answer in answers or []),
        matches_by_state=dict(Counter(str(m.state) for m in snap.matches)),
        event_endings=dict(Counter(str(run.outcome) for run in event_endings)),
        emitter_kills=emitter_kills,
        hook_calls=len(calls),
        hook_retries=sum(answer["tries"] > 1 for answer in calls),
        hook_events=sum(event.created_by.startswith("hook:") for event in snap.events.values()),
        hook_messages=sum(row.created_by.startswith("hook:") for row in snap.rows.values()),
        host_kills=kills.host_kills,
        runner_kills=kills.runner_kills,
        db_restarts=kills.db_restarts,
        duplicates=kinds[DUPLICATE],
        losses=kinds[LOSS],
        other_violations=sum(count for kind, count in kinds.items() if kind not in (DUPLICATE, LOSS)),
        chaos_s=chaos_s,
        settle_s=settle_s,
        wall_s=wall_s,
        started=started,
    )
