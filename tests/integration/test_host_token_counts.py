"""The host counts the tokens a run spent, from the provider's answers, whatever the runner's result claims.

The runner and the model are untrusted: a model call is made only for a row the runner holds, and the run's
recorded tokens and its series' daily budget use the host's count. Over a real unix socket, on every backend.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from agent_runner.client import LeaseLost
from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER, ModelRequest
from scripts.fake_provider.server import RecordedRequest, Scripted, ScriptedReply
from sweeper.http.agent_limits import AgentLimits
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.test_runner_api import Host, ask, host, result

__all__ = ["host"]  # the fixture, shared with the runner protocol's tests


def model_status(host: Host, identity: RunnerIdentity, request: ModelRequest) -> int:
    token = host.state.runner_tokens.issue(identity)
    headers = {"authorization": f"Bearer {token}", VERSION_HEADER: PROTOCOL_VERSION}
    with httpx.Client(transport=httpx.HTTPTransport(uds=host.socket_path), base_url="http://host") as raw:
        return raw.post("/runner/v1/model", json=request.model_dump(mode="json"), headers=headers).status_code


def test_a_model_call_needs_a_lease_on_the_row_it_names(host: Host) -> None:
    pending = host.inbox.send("not due yet", session="a", in_="1h")
    theirs = host.inbox.send("for b", session="b")
    host.runner("b", "r-b").claim(limit=1, wait_s=0)
    idle = RunnerIdentity(session="a", owner="r-a")  # holds nothing

    assert model_status(host, idle, ask(pending.id)) == 409
    assert model_status(host, idle, ask(theirs.id)) == 403  # another session's row
    assert model_status(host, idle, ask("01J0000000000000000000NONE")) == 404
    runner, held = host.holding()
    assert model_status(host, RunnerIdentity(session="a", owner="r-a2"), ask(held)) == 409  # held by another runner
    assert model_status(host, idle, ask(held, attempt=2)) == 409  # not the attempt it holds
    runner.report(result(held))
    with pytest.raises(LeaseLost):
        runner.model(ask(held), timeout_s=10)  # its work on the row is over

    assert host.fake.requests == []  # the host's key was never used for them


def test_a_run_records_the_tokens_the_host_counted_not_the_ones_its_result_claims(host: Host) -> None:
    host.fake.reply("one", input_tokens=30, output_tokens=20)
    host.fake.reply("two", input_tokens=30, output_tokens=20)
    runner, held = host.holding()
    for _ in range(2):
        runner.model(ask(held), timeout_s=10)

    runner.report(result(held, reply="two", input_tokens=0, output_tokens=0))

    [run] = host.runs(held)
    assert (run.input_tokens, run.output_tokens) == (60, 40)


def test_tokens_a_result_claims_without_model_calls_are_not_recorded(host: Host) -> None:
    runner, held = host.holding()

    runner.report(result(held, reply="hi", input_tokens=1_000_000, output_tokens=1_000_000))

    [run] = host.runs(held)
    assert (run.input_tokens, run.output_tokens) == (0, 0)


def test_a_transient_failure_records_the_tokens_its_attempt_spent(host: Host) -> None:
    host.fake.reply("half", input_tokens=70, output_tokens=30)
    runner, held = host.holding()
    runner.model(ask(held), timeout_s=10)

    runner.report(result(held, "failed", error="provider hiccup", transient=True))

    [run] = host.runs(held)
    assert (run.outcome, run.input_tokens, run.output_tokens) == ("failed", 70, 30)


def test_a_model_call_still_out_when_the_result_arrives_is_counted(host: Host) -> None:
    def slow(_: RecordedRequest) -> Scripted:
        return ScriptedReply("late", input_tokens=80, output_tokens=20, delay_s=1.0)

    host.fake.respond_with(slow)
    runner, held = host.holding()
    call = threading.Thread(target=lambda: runner.model(ask(held), timeout_s=10))
    call.start()
    deadline = time.monotonic() + 5
    while not host.fake.requests and time.monotonic() < deadline:
        time.sleep(0.01)  # the provider has the request

    runner.report(result(held, reply="done early"))
    call.join(timeout=10)

    [run] = host.runs(held)
    assert (run.input_tokens, run.output_tokens) == (80, 20)


@pytest.mark.parametrize("claimed", [0, 10_000])
def test_the_daily_budget_pauses_a_series_on_the_hosts_count(host: Host, claimed: int) -> None:
    host.state.agent_limits = AgentLimits(daily_series_tokens=100)
    made = host.inbox.schedule("costly", every="1h", session="a")
    host.make_due(made.id)
    runner = host.runner()
    assert [item.id for item in runner.claim(limit=1, wait_s=0).items] == [made.id]
    host.fake.reply("answer", input_tokens=100, output_tokens=50)
    runner.model(ask(made.id), timeout_s=10)

    ended = runner.report(result(made.id, reply="answer", input_tokens=claimed, output_tokens=claimed))

    _, follow_up = host.series(made.series_id)
    assert ended.follow_up_id == follow_up.id and follow_up.status == "paused"
    assert (follow_up.reason or "").startswith("budget: 150 tokens in 24 h")


def test_tokens_only_claimed_by_a_result_do_not_pause_a_series(host: Host) -> None:
    host.state.agent_limits = AgentLimits(daily_series_tokens=100)
    made = host.inbox.schedule("cheap", every="1h", session="a")
    host.make_due(made.id)
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)

    runner.report(result(made.id, reply="answer", input_tokens=10_000, output_tokens=10_000))

    _, follow_up = host.series(made.series_id)
    assert (follow_up.status, follow_up.reason) == ("pending", None)
