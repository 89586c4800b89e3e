"""Tasks that run after others (``after``, ``when``), on every backend: rounds, upstream_failed, cycles, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from inbox import Inbox, InvalidInput
from inbox.enums import Outcome
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.reminders import deliver_one_shot_reminders, deliver_recurring_reminders
from inbox.store.trigger_tables import Dependency, DependencyRound
from inbox.store.types import FOREVER
from sweeper.retention import RetentionPolicy, apply_retention
from tests.conftest import Clock
from tests.integration.helpers import claim, end, live, rows, runs


def run_task(inbox: Inbox, series_id: str, outcome: Outcome = Outcome.COMPLETED, **report: Any) -> MessageIn:
    """An occurrence of ``series_id`` (a run-now, as a person would ask) ended with ``outcome`` as a runner reports
    it; nothing else is claimed."""
    extra = inbox.run_now(series_id)
    return end(inbox, extra.id, outcome, **report).row


def rounds_of(inbox: Inbox, series_id: str) -> list[MessageIn]:
    """The occurrences the upstreams started (extra rows carrying data.upstream), oldest first."""
    return [r for r in rows(inbox, series_id) if r.is_extra and "upstream" in (r.content.get("data") or {})]


def outcomes(inbox: Inbox, series_id: str) -> list[str]:
    return [run.outcome for run in runs(inbox, series_id)]


def upstream_of(row: MessageIn) -> list[dict[str, Any]]:
    data = row.content["data"]
    assert isinstance(data, dict)
    found: list[dict[str, Any]] = data["upstream"]
    return found


def test_a_task_after_another_runs_when_it_ends_with_its_outcome_and_reply(inbox: Inbox, clock: Clock) -> None:
    fetch = inbox.schedule("fetch the feeds", every="1h", name="fetch")
    digest = inbox.schedule("write the digest", after=["fetch"], name="digest")
    assert digest.next_runs == [] and digest.schedule == f"after {fetch.series_id} (all_success)"
    [chain] = live(inbox, digest.series_id)
    assert chain.process_after == FOREVER  # only its upstream starts it
    task = inbox.get("digest")
    assert task.after == [fetch.series_id] and task.when == "all_success" and task.next_run is None

    clock.advance(hours=1)
    [ran] = claim(inbox)
    end(inbox, ran.id, model_output="12 new items")
    [round_] = claim(inbox)  # due at once
    assert round_.series_id == digest.series_id and round_.is_extra
    assert upstream_of(round_) == [
        {
            "series_id": fetch.series_id,
            "name": "fetch",
            "outcome": "completed",
            "reply": "12 new items",
            "ended_at": clock.now.isoformat(),
        }
    ]
    end(inbox, round_.id)
    assert claim(inbox) == []  # one ending, one round
    assert outcomes(inbox, digest.series_id) == ["completed"]


def test_a_reply_reaches_the_downstream_clipped(inbox: Inbox) -> None:
    up = inbox.schedule("long", every="1h")
    down = inbox.schedule("short", after=[up.series_id])
    run_task(inbox, up.series_id, model_output="x" * 10_000)
    [round_] = rounds_of(inbox, down.series_id)
    reply = upstream_of(round_)[0]["reply"]
    assert 3_900 < len(reply) <= 4_000 and reply.endswith("chars cut]")


@pytest.mark.parametrize(
    ("when", "after_failure"),
    [("all_success", ["upstream_failed", "upstream_failed"]), ("all_done", ["completed", "completed"])],
)
def test_a_chain_of_three_under_each_rule(inbox: Inbox, when: str, after_failure: list[str]) -> None:
    first = inbox.schedule("first", every="1h", name="first")
    second = inbox.schedule("second", after=["first"], when=when, name="second")
    third = inbox.schedule("third", after=["second"], when=when, name="third")

    run_task(inbox, first.series_id)  # a success runs the chain under every rule
    for task in (second, third):
        [round_] = claim(inbox)
        assert round_.series_id == task.series_id
        end(inbox, round_.id)
    assert outcomes(inbox, second.series_id) == outcomes(inbox, third.series_id) == ["completed"]

    run_task(inbox, first.series_id, Outcome.FAILED, error="HTTP 500")
    for task, outcome in zip((second, third), after_failure, strict=True):
        if outcome == "completed":  # all_done: the round runs whatever the upstream's outcome
            [round_] = claim(inbox)
            assert upstream_of(round_)[0]["outcome"] == ("failed" if task is second else "completed")
            end(inbox, round_.id)
        assert outcomes(inbox, task.series_id)[-1] == outcome
    assert claim(inbox) == []


def test_upstream_failed_propagates_down_the_chain_without_a_model_call(inbox: Inbox) -> None:
    first = inbox.schedule("first", every="1h", name="first")
    second = inbox.schedule("second", after=["first"], name="second")
    third = inbox.schedule("third", every="1d", after=["second"], name="third")  # mixed: time or its upstream

    run_task(inbox, first.series_id, Outcome.SCRIPT_ERROR, error="pre-script exit code 3")
    assert claim(inbox) == []  # nothing to run: each round ended at once
    [second_run] = runs(inbox, second.series_id)
    [third_run] = runs(inbox, third.series_id)
    assert second_run.outcome == third_run.outcome == "upstream_failed"
    assert second_run.error == f"upstream first ({first.series_id}) ended script_error"
    assert third_run.error == f"upstream second ({second.series_id}) ended upstream_failed"
    assert second_run.model_output is None and second_run.input_tokens == 0
    [third_round] = rounds_of(inbox, third.series_id)
    assert third_round.status == "skipped"
    assert inbox.get(third.series_id).status == "active"  # the series itself goes on
    assert inbox.get(third.series_id).last_outcome == "upstream_failed"


def test_all_success_waits_for_every_upstream_and_counts_the_latest_ending_of_each(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="a")
    b = inbox.schedule("b", every="1h", name="b")
    both = inbox.schedule("both", after=["a", "b"])
    run_task(inbox, a.series_id, Outcome.FAILED, error="HTTP 500")
    run_task(inbox, a.series_id)  # a's latest ending replaces its earlier one
    assert rounds_of(inbox, both.series_id) == []  # b has not ended yet
    run_task(inbox, b.series_id, Outcome.SILENT)  # silent is a success
    [round_] = rounds_of(inbox, both.series_id)
    assert [(u["name"], u["outcome"]) for u in upstream_of(round_)] == [("a", "completed"), ("b", "silent")]
    assert round_.status == "pending"
    run_task(inbox, b.series_id)  # the next round waits for new endings of both
    assert len(rounds_of(inbox, both.series_id)) == 1


def test_all_done_runs_whatever_the_outcomes(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="a")
    b = inbox.schedule("b", every="1h", name="b")
    report = inbox.schedule("report", after=["a", "b"], when="all_done")
    run_task(inbox, a.series_id, Outcome.TIMEOUT, error="run timed out after 60 s")
    assert rounds_of(inbox, report.series_id) == []
    run_task(inbox, b.series_id, Outcome.SKIPPED)
    [round_] = rounds_of(inbox, report.series_id)
    assert [u["outcome"] for u in upstream_of(round_)] == ["timeout", "skipped"]
    assert round_.status == "pending"


def test_any_success_runs_at_the_first_success_and_fails_when_none_succeeded(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="a")
    b = inbox.schedule("b", every="1h", name="b")
    either = inbox.schedule("either", after=["a", "b"], when="any_success")
    run_task(inbox, a.series_id, Outcome.FAILED, error="HTTP 500")
    assert rounds_of(inbox, either.series_id) == []  # a failure alone starts nothing while b may still succeed
    run_task(inbox, b.series_id)
    [first] = rounds_of(inbox, either.series_id)
    assert [(u["name"], u["outcome"]) for u in upstream_of(first)] == [("a", "failed"), ("b", "completed")]
    run_task(inbox, a.series_id)  # a round of its own: the first success since the last round
    assert [u["name"] for u in upstream_of(rounds_of(inbox, either.series_id)[1])] == ["a"]
    run_task(inbox, a.series_id, Outcome.FAILED, error="HTTP 500")
    run_task(inbox, b.series_id, Outcome.FAILED, error="HTTP 500")  # every upstream ended, none succeeded
    third = rounds_of(inbox, either.series_id)[2]
    assert third.status == "skipped"
    assert outcomes(inbox, either.series_id) == ["upstream_failed"]
    assert runs(inbox, either.series_id)[0].error == (
        f"upstream a ({a.series_id}) ended failed, b ({b.series_id}) ended failed"
    )


def test_each_round_is_numbered_once_and_takes_its_endings(inbox: Inbox) -> None:
    up = inbox.schedule("up", every="1h")
    down = inbox.schedule("down", after=[up.series_id])
    taken = [run_task(inbox, up.series_id).id for _ in range(3)]
    with transaction(inbox.engine) as db:
        recorded = db.exec(select(DependencyRound).where(DependencyRound.downstream_id == down.series_id)).all()
    assert [r.round_no for r in recorded] == [1, 2, 3]
    assert [r.upstream[0]["message_id"] for r in recorded] == taken
    assert [r.message_id for r in recorded] == [r.id for r in rounds_of(inbox, down.series_id)]


def test_a_round_waits_behind_a_running_occurrence(inbox: Inbox) -> None:
    up = inbox.schedule("up", every="1h")
    down = inbox.schedule("down", every="1h", after=[up.series_id])
    extra = inbox.run_now(down.series_id)
    [running] = [r for r in claim(inbox) if r.id == extra.id]
    run_task(inbox, up.series_id)
    assert claim(inbox) == []  # the round waits: two occurrences of one series never run together
    end(inbox, running.id)
    [round_] = claim(inbox)
    assert round_.series_id == down.series_id and upstream_of(round_)


def test_a_paused_task_collects_endings_and_runs_the_round_when_resumed(inbox: Inbox) -> None:
    up = inbox.schedule("up", every="1h")
    down = inbox.schedule("down", after=[up.series_id])
    inbox.pause(down.series_id)
    run_task(inbox, up.series_id)
    assert rounds_of(inbox, down.series_id) == []
    inbox.resume(down.series_id)
    [round_] = rounds_of(inbox, down.series_id)
    assert round_.status == "pending"


def test_a_cancelled_upstream_pauses_its_downstream_saying_why(inbox: Inbox) -> None:
    up = inbox.schedule("feeds", every="1h", name="feeds")
    down = inbox.schedule("digest", after=["feeds"], name="digest")
    other = inbox.schedule("other", every="1h")
    inbox.cancel("feeds")
    paused = inbox.get("digest")
    assert paused.status == "paused"
    assert paused.reason == f"upstream task feeds ({up.series_id}) was cancelled"
    # The session is told, as when the host pauses a series for its failures or its budget.
    [told] = [item.text for item in inbox.outbox(session="main") if item.kind == "system"]
    assert told == (
        f"Task digest was paused: upstream task feeds ({up.series_id}) was cancelled. "
        f"Give it other upstreams (inbox update {down.series_id} --after ID), then resume it"
    )
    assert inbox.get(other.series_id).status == "active"
    with pytest.raises(InvalidInput) as refused:
        inbox.schedule("later", after=["feeds"])  # a cancelled task never runs again
    assert refused.value.field == "after" and "cancelled" in refused.value.reason
    again = inbox.update(down.series_id, after=[other.series_id])
    assert again.after == [other.series_id]
    assert inbox.resume(down.series_id).status == "active"


def edges(inbox: Inbox) -> list[tuple[str, str, str]]:
    with transaction(inbox.engine) as db:
        found = db.exec(select(Dependency)).all()
        return sorted((e.upstream_id, e.downstream_id, str(e.when)) for e in found)


def test_a_direct_cycle_is_refused_naming_it_and_nothing_is_written(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="alpha")
    b = inbox.schedule("b", after=["alpha"], name="beta")
    before = edges(inbox)
    with pytest.raises(InvalidInput) as refused:
        inbox.update("alpha", after=["beta"])
    assert refused.value.field == "after"
    assert refused.value.reason == "would close a cycle: alpha → beta → alpha"
    with pytest.raises(InvalidInput) as itself:
        inbox.update("beta", after=["alpha", "beta"])
    assert itself.value.reason == "would close a cycle: beta → beta"
    assert edges(inbox) == before == [(a.series_id, b.series_id, "all_success")]
    assert inbox.get("alpha").after == []


def test_an_indirect_cycle_is_refused_naming_it(inbox: Inbox) -> None:
    inbox.schedule("a", every="1h", name="a")
    inbox.schedule("b", after=["a"], name="b")
    inbox.schedule("c", after=["b"], name="c")
    d = inbox.schedule("d", every="1h")
    before = edges(inbox)
    with pytest.raises(InvalidInput) as refused:
        inbox.update("a", after=[d.series_id, "c"])
    assert refused.value.reason == "would close a cycle: a → b → c → a"
    assert edges(inbox) == before


def test_update_replaces_the_upstreams_and_the_rule(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="a")
    b = inbox.schedule("b", every="1h", name="b")
    down = inbox.schedule("down", every="1d", after=["a"])
    run_task(inbox, a.series_id, Outcome.FAILED, error="HTTP 500")  # all_success: ended upstream_failed
    changed = inbox.update(down.series_id, after=["a", "b"], when="any_success")
    assert changed.after == [a.series_id, b.series_id] and changed.when == "any_success"
    assert edges(inbox) == sorted(
        [(a.series_id, down.series_id, "any_success"), (b.series_id, down.series_id, "any_success")]
    )
    assert inbox.update(down.series_id, when="all_done").when == "all_done"  # the rule alone
    removed = inbox.update(down.series_id, after=[])
    assert removed.after == [] and removed.when is None and removed.schedule == "every 1d"
    assert edges(inbox) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"after": ["nothing-by-this-name"]}, "after"),
        ({"after": []}, "after"),
        ({"after": [""]}, "after"),
        ({"after": ["x"] * 21}, "after"),
        ({"every": "1h", "when": "all_done"}, "when"),
        ({"after": ["up"], "when": "sometimes"}, "when"),
        ({"after": ["up"], "at": "2026-07-01T09:00"}, "after"),
        ({"after": ["up"], "max_runs": 2}, "max_runs"),
    ],
)
def test_bad_after_or_when_is_refused_naming_the_field_and_writes_nothing(
    inbox: Inbox, fields: dict[str, object], field: str
) -> None:
    inbox.schedule("up", every="1h", name="up")
    with pytest.raises(InvalidInput) as refused:
        inbox.schedule("down", **fields)
    assert refused.value.field == field
    assert [t.name for t in inbox.tasks(status="all")] == ["up"] and edges(inbox) == []


def test_a_task_keeps_something_that_starts_it(inbox: Inbox) -> None:
    up = inbox.schedule("up", every="1h")
    only_after = inbox.schedule("down", after=[up.series_id])
    with pytest.raises(InvalidInput) as refused:
        inbox.update(only_after.series_id, after=[])
    assert refused.value.field == "after"
    with pytest.raises(InvalidInput) as refused:
        inbox.update(up.series_id, when="all_done")  # a rule for no upstreams
    assert refused.value.field == "when"
    assert inbox.update(only_after.series_id, on=["feed.*"], after=[]).schedule == "on feed.*"


def test_the_graph_lists_nodes_and_edges_whole_or_around_a_task(inbox: Inbox) -> None:
    a = inbox.schedule("a", every="1h", name="a")
    b = inbox.schedule("b", after=["a"], name="b", when="all_done")
    lone = inbox.schedule("lone", every="1h", name="lone")
    x = inbox.schedule("x", every="1h", name="x")
    y = inbox.schedule("y", after=["x"], name="y")
    inbox.pause("y")
    whole = inbox.graph()
    assert [(n.name, n.status) for n in whole.nodes] == [
        ("a", "active"),
        ("b", "active"),
        ("x", "active"),
        ("y", "paused"),
    ]
    assert [(e.upstream, e.downstream, e.when) for e in whole.edges] == [
        (a.series_id, b.series_id, "all_done"),
        (x.series_id, y.series_id, "all_success"),
    ]
    around = inbox.graph("b")
    assert [n.series_id for n in around.nodes] == [a.series_id, b.series_id]
    assert [n.series_id for n in inbox.graph("lone").nodes] == [lone.series_id]
    assert inbox.graph("lone").edges == []


def test_retention_keeps_the_newest_round_of_each_task_and_numbering_goes_on(inbox: Inbox, clock: Clock) -> None:
    up = inbox.schedule("up", every="1h")
    down = inbox.schedule("down", after=[up.series_id])
    for _ in range(3):
        run_task(inbox, up.series_id)
        for row in claim(inbox):
            end(inbox, row.id)
    clock.advance(days=100)
    report = apply_retention(inbox.engine, now=clock.now, policy=RetentionPolicy())
    assert report.rounds == 2
    run_task(inbox, up.series_id)
    with transaction(inbox.engine) as db:
        kept = db.exec(select(DependencyRound).where(DependencyRound.downstream_id == down.series_id)).all()
    assert sorted(r.round_no for r in kept) == [3, 4]


def test_reminders_the_host_delivers_in_batches_start_rounds_too(inbox: Inbox, clock: Clock) -> None:
    daily = inbox.schedule("bins out", every="1h", remind=True, name="daily")
    once = inbox.schedule("call mum", in_="30m", remind=True, name="once")
    after_daily = inbox.schedule("after daily", after=["daily"])
    after_once = inbox.schedule("after once", after=["once"], when="all_done")
    clock.advance(hours=1)
    with transaction(inbox.engine) as db:
        assert deliver_one_shot_reminders(db, now=clock.now, limit=500, runner="host") == 1
        assert deliver_recurring_reminders(db, now=clock.now, limit=500, runner="host", grace=timedelta(minutes=1)) == 1
    for upstream, downstream in ((daily, after_daily), (once, after_once)):
        [round_] = rounds_of(inbox, downstream.series_id)
        [entry] = upstream_of(round_)
        assert (entry["series_id"], entry["outcome"]) == (upstream.series_id, "completed")


def test_missed_slots_are_endings_that_do_not_succeed(inbox: Inbox, clock: Clock) -> None:
    up = inbox.schedule("hourly", every="1h", catch_up="skip", name="hourly")
    down = inbox.schedule("after", after=["hourly"])
    clock.advance(hours=3, minutes=30)  # three slots passed while nothing ran: skip records each as missed
    assert claim(inbox) == []
    assert outcomes(inbox, up.series_id) == ["missed"] * 3
    assert outcomes(inbox, down.series_id) == ["upstream_failed"] * 3
