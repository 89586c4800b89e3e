"""The start gate over a real unix socket: a runner's item claimed early is let go just before its due time (with
what the conversation it continues gained since the claim), and one paused in the window, or asked for while the
host shuts down, is handed back unstarted. That the runner then starts it at its due time, not before, is
tests/acceptance/test_on_time_e2e.py's.

The claim window is widened to 5 s here (CLAIM_AHEAD is 100 ms) so that what happens inside it does not race the
machine's speed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import sweeper.http.runner_api
from agent_runner.client import LeaseLost
from agent_runner.conversation import ChatTurn
from inbox.defaults import GO_AHEAD
from inbox.store.types import utcnow
from tests.integration.test_runner_api import Host, host, result  # noqa: F401  (the fixture)

DUE_IN = timedelta(seconds=2)  # the claim comes well before it, on a busy machine too


@pytest.fixture(autouse=True)
def _wide_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeper.http.runner_api, "CLAIM_AHEAD", timedelta(seconds=5))


def _scheduled_soon(host: Host) -> str:  # noqa: F811
    when = (utcnow() + DUE_IN).isoformat(timespec="microseconds")
    return host.inbox.schedule("say hi", at=when, session="a").id


def test_an_item_claimed_early_is_let_go_just_before_its_due_time(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    assert (item.id, item.early) == (message_id, True)
    assert item.history is not None and item.history.turns == []  # the conversation, as it is at the claim
    assert utcnow() < item.process_after - GO_AHEAD
    reply = runner.start(item.id, item.attempt, history=item.history)
    assert (reply.go, reply.history) == (True, None)  # the claim's is still the whole conversation
    assert utcnow() >= item.process_after - GO_AHEAD  # the host answered no sooner
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("running", 0, "r-a")


def test_the_go_brings_the_conversation_again_when_a_run_added_to_it_since_the_claim(host: Host) -> None:  # noqa: F811
    """An agent run claimed early gets its conversation with the claim; a run that ends before its due time (here, a
    chat line's) adds to it, and the go then brings it as it is."""
    runner = host.runner()
    message_id = _scheduled_soon(host)
    chat = host.inbox.send("my name is Ada", session="a")
    items = {item.id: item for item in runner.claim(limit=4, wait_s=0).items}
    claimed = items[message_id].history
    assert claimed is not None and claimed.turns == [] and items[message_id].starts_with_model
    said = [ChatTurn(role="user", text="my name is Ada"), ChatTurn(role="assistant", text="Hello Ada")]
    runner.report(result(chat.id, reply="Hello Ada", new_turns=said))
    reply = runner.start(message_id, items[message_id].attempt, history=claimed)
    assert reply.go and reply.history is not None
    assert [(turn.role, turn.text) for turn in reply.history.turns] == [
        ("user", "my name is Ada"),
        ("assistant", "Hello Ada"),
    ]
    assert reply.history == runner.history(message_id)  # what /history answers for the same row


def test_a_pause_before_the_due_time_hands_the_item_back_unstarted(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    series_id = host.row(message_id).series_id
    assert series_id is not None
    host.inbox.pause(series_id)
    reply = runner.start(item.id, item.attempt)
    assert (reply.go, reply.reason) == (False, "paused")
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("paused", 0, None)
    assert host.runs(message_id) == []
    with pytest.raises(LeaseLost):  # no longer the runner's: a second ask is refused
        runner.start(item.id, item.attempt)


def test_a_host_shutting_down_hands_an_early_item_back_pending(host: Host) -> None:  # noqa: F811
    message_id = _scheduled_soon(host)
    runner = host.runner()
    [item] = runner.claim(limit=4, wait_s=0).items
    host.state.draining.set()
    reply = runner.start(item.id, item.attempt)
    assert (reply.go, reply.reason) == (False, "host shutting down")
    row = host.row(message_id)
    assert (row.status, row.tries, row.lease_owner) == ("pending", 0, None)
    assert host.runs(message_id) == []


def test_another_runner_cannot_start_a_row_it_does_not_hold(host: Host) -> None:  # noqa: F811
    _scheduled_soon(host)
    [item] = host.runner().claim(limit=4, wait_s=0).items
    with pytest.raises(LeaseLost):
        host.runner(owner="r-other").start(item.id, item.attempt)


def test_a_go_brings_only_the_turns_added_since_the_claim(host: Host) -> None:  # noqa: F811
    """A long conversation sent whole with the go made the go late: when runs only added turns, the go brings
    those, and the runner's conversation is then what /history answers."""
    runner = host.runner()
    first = host.inbox.send("my name is Ada", session="a")
    runner.claim(limit=4, wait_s=0)
    runner.report(result(first.id, reply="Hello Ada", new_turns=[ChatTurn(role="user", text="my name is Ada")]))
    message_id = _scheduled_soon(host)
    second = host.inbox.send("I live in Paris", session="a")
    items = {item.id: item for item in runner.claim(limit=4, wait_s=0).items}
    claimed = items[message_id].history
    assert claimed is not None and [turn.text for turn in claimed.turns] == ["my name is Ada"]
    runner.report(result(second.id, reply="Noted", new_turns=[ChatTurn(role="user", text="I live in Paris")]))
    reply = runner.start(message_id, items[message_id].attempt, history=claimed)
    assert reply.go and reply.history is None
    assert [turn.text for turn in reply.added] == ["I live in Paris"]  # not the whole conversation again
    assert reply.continued(claimed) == runner.history(message_id)


def test_a_go_brings_the_whole_conversation_when_a_summary_replaced_part_of_it(host: Host) -> None:  # noqa: F811
    """A summary takes the id of the last turn it replaces: the turns added after the claim's newest are then not
    all that changed, and the go brings the conversation as it now is."""
    runner = host.runner()
    first = host.inbox.send("my name is Ada", session="a")
    runner.claim(limit=4, wait_s=0)
    said = [ChatTurn(role="user", text="my name is Ada"), ChatTurn(role="assistant", text="Hello Ada")]
    runner.report(result(first.id, reply="Hello Ada", new_turns=said))
    message_id = _scheduled_soon(host)
    second = host.inbox.send("I live in Paris", session="a")
    items = {item.id: item for item in runner.claim(limit=4, wait_s=0).items}
    claimed = items[message_id].history
    assert claimed is not None and len(claimed.turns) == 2
    through = items[second.id].history
    assert through is not None and through.newest_id == claimed.newest_id
    runner.report(
        result(
            second.id,
            reply="Noted",
            new_turns=[ChatTurn(role="user", text="I live in Paris")],
            summary="Ada introduced herself.",
            summary_through=through.newest_id,
        )
    )
    reply = runner.start(message_id, items[message_id].attempt, history=claimed)
    assert reply.go and reply.added == [] and reply.history is not None
    assert (reply.history.summary, [turn.text for turn in reply.history.turns]) == (
        "Ada introduced herself.",
        ["I live in Paris"],
    )
    assert reply.continued(claimed) == runner.history(message_id)
