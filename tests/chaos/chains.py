"""Dependency chains in a chaos run: a head (an interval series with an end) and two tasks after it, one after the
other, each with its own ``when``; and what must hold of their rounds once the run has settled.

The head is a task of the plan like any other (checked by the general invariants); the two tasks after it are
started only by their upstreams, so their every occurrence is a round (``dependency_rounds``). What must hold:

* every round ends with an outcome: its occurrence exists, has ended, and has a final run;
* no round is run twice, nor doubled: rounds are numbered 1..n, each its own occurrence, and an upstream occurrence
  is taken by one round at most;
* nothing is lost: every ended occurrence of an upstream is taken by exactly one round of the task after it (the
  tasks after a head are never paused or cancelled in a chaos run, so every ending makes a round);
* each round's outcome is what its upstream's ending and its ``when`` mean: ``upstream_failed`` exactly when the
  upstream did not succeed under ``all_success`` or ``any_success`` (one upstream: the same rule), never under
  ``all_done``; a round that ran answered with its own task's reply.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from inbox import Inbox
from inbox.enums import SUCCESS_OUTCOMES, Outcome, Status, When
from tests.chaos.invariants import DUPLICATE, LOSS, RETRY_OUTCOMES, Snapshot, Violation
from tests.chaos.plan import SCRIPTS, Gate, Shape, TaskPlan, answer_for

HEAD_INTERVAL_S = 3


@dataclass(frozen=True)
class ChainPlan:
    head: TaskPlan
    whens: tuple[When, When]  # of the task after the head, and of the one after that

    def tag(self, link: int) -> str:
        return f"{self.head.tag}{'ab'[link]}"

    def prompt(self, link: int) -> str:
        return f"[chaos {self.tag(link)}] after the task before it; reply briefly"


@dataclass(frozen=True)
class ScheduledChain:
    plan: ChainPlan
    head_id: str
    after_ids: tuple[str, str]

    def links(self) -> list[tuple[str, str, When, str]]:
        """(upstream, downstream, when, the downstream's tag) of each edge."""
        (first, second), (one, two) = self.after_ids, self.plan.whens
        return [(self.head_id, first, one, self.plan.tag(0)), (first, second, two, self.plan.tag(1))]


def make_chains(count: int, *, seed: int, sessions: int = 6) -> list[ChainPlan]:
    """``count`` chains of three, scheduled before the kills start; the same seed gives the same chains."""
    rng = random.Random(seed * 7919 + 1)
    chains = []
    for index in range(count):
        gate = rng.choices([Gate.NONE, Gate.WAKE, Gate.SKIP, Gate.FAIL], weights=[30, 20, 15, 35])[0]
        head = TaskPlan(
            tag=f"c{index:03d}",
            shape=Shape.EVERY,
            session=f"chaos-{rng.randrange(sessions)}",
            create_at_s=0.0,
            gate=gate,
            script=rng.choice(SCRIPTS[gate]) if gate != Gate.NONE else None,
            remind=False,
            retries=rng.choice([1, 3]),
            catch_up=rng.choice(["once", "skip"]),
            context=None,
            interval_s=HEAD_INTERVAL_S,
            wanted_runs=rng.randint(2, 5),
        )
        whens = (rng.choice(list(When)), rng.choice(list(When)))
        chains.append(ChainPlan(head, whens))
    return chains


def schedule_chain(inbox: Inbox, chain: ChainPlan, head_id: str) -> ScheduledChain:
    """The two tasks after ``head_id`` (the head is scheduled as a task of the plan)."""
    made: list[str] = []
    upstream = head_id
    for link in (0, 1):
        task = inbox.schedule(
            chain.prompt(link),
            after=[upstream],
            when=chain.whens[link].value,
            session=chain.head.session,
            retries=3,
            name=f"chaos-{chain.tag(link)}",
        )
        made.append(task.series_id)
        upstream = task.series_id
    return ScheduledChain(chain, head_id, (made[0], made[1]))


def _expected_failure(when: When, upstream: Outcome) -> bool:
    return when != When.ALL_DONE and upstream not in SUCCESS_OUTCOMES


def check_chains(snap: Snapshot, chains: list[ScheduledChain]) -> list[Violation]:
    out = []
    for chain in chains:
        for upstream_id, downstream_id, when, tag in chain.links():
            out.extend(_check_link(snap, upstream_id, downstream_id, when, tag))
    return out


def _check_link(snap: Snapshot, upstream_id: str, downstream_id: str, when: When, tag: str) -> list[Violation]:
    out = []
    rounds = snap.rounds.get(downstream_id, [])
    numbers = [r.round_no for r in rounds]
    if numbers != list(range(1, len(rounds) + 1)):
        out.append(Violation(DUPLICATE, downstream_id, f"rounds numbered {numbers}"))
    messages = Counter(r.message_id for r in rounds)
    taken = Counter(str(u["message_id"]) for r in rounds for u in r.upstream)
    out += [
        Violation(DUPLICATE, downstream_id, f"round occurrence {m} in {n} rounds") for m, n in messages.items() if n > 1
    ]
    out += [Violation(DUPLICATE, m, f"taken by {n} rounds of {downstream_id}") for m, n in taken.items() if n > 1]
    ended = {
        row.id: final
        for row in snap.series_rows(upstream_id)
        if (final := snap.final_run(row)) is not None and not Status(row.status).is_live
    }
    for message_id in sorted(set(ended) - set(taken)):
        out.append(Violation(LOSS, message_id, f"ended {ended[message_id].outcome} but no round of {downstream_id}"))
    for round_ in rounds:
        out.extend(_check_round(snap, round_.message_id, round_.upstream, when, tag))
    return out


def _check_round(
    snap: Snapshot, message_id: str, upstream: list[dict[str, str]], when: When, tag: str
) -> list[Violation]:
    row = snap.rows.get(message_id)
    if row is None:
        return [Violation(LOSS, message_id, "a round with no occurrence")]
    final = snap.final_run(row)
    if final is None:
        return [Violation(LOSS, message_id, f"a round left {row.status}, with no outcome")]
    outcomes = [Outcome(u["outcome"]) for u in upstream]
    shown = [u["outcome"] for u in (row.content.get("data") or {}).get("upstream", [])]
    if shown != [str(o) for o in outcomes]:
        return [Violation("outcome", message_id, f"data.upstream says {shown}, the round took {outcomes}")]
    must_fail = any(_expected_failure(when, outcome) for outcome in outcomes)
    if must_fail != (final.outcome == Outcome.UPSTREAM_FAILED):
        return [Violation("outcome", message_id, f"{when} after {outcomes} but the round ended {final.outcome}")]
    if final.outcome == Outcome.COMPLETED and final.model_output != answer_for(tag):
        return [Violation("outcome", message_id, f"completed with model output {final.model_output!r}")]
    if final.outcome not in (Outcome.COMPLETED, Outcome.UPSTREAM_FAILED, *RETRY_OUTCOMES):
        return [Violation("outcome", message_id, f"a round ended {final.outcome}")]
    return []
