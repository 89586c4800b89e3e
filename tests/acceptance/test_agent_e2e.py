"""The agent through real hosts, in both wire formats: conversations by context mode, silence, the budget,
and the tools the model calls to schedule work."""

from __future__ import annotations

import json

import pytest

from scripts.fake_provider.server import RecordedRequest, ScriptedReply
from tests.acceptance.served import HOST_KEY, Served

pytestmark = pytest.mark.slow
WIRES = ["openai", "anthropic"]


def _start(served: Served, wire: str, **env: str) -> None:
    if wire == "anthropic":
        env.update(INBOX_PROVIDER="anthropic", ANTHROPIC_BASE_URL=served.fake.url, ANTHROPIC_API_KEY=HOST_KEY)
    served.start_host(**env)


def _sent(request: RecordedRequest) -> str:
    """Everything the conversation carried (system prompt aside), as one searchable text."""
    return json.dumps(request.json["messages"], ensure_ascii=False)


@pytest.mark.parametrize("wire", WIRES)
def test_a_series_task_remembers_its_earlier_runs_and_a_fresh_one_does_not(served_sqlite: Served, wire: str) -> None:
    served = served_sqlite
    served.fake.respond_with(
        lambda request: ScriptedReply("remembered-" + ("series" if "series job" in _sent(request) else "fresh"))
    )
    kept = served.inbox.schedule("series job", every="2s", context="series", max_runs=2)
    fresh = served.inbox.schedule("fresh job", every="2s", max_runs=2)
    _start(served, wire)
    served.wait_for_runs(kept.series_id, 2)
    served.wait_for_runs(fresh.series_id, 2)
    series_calls = [r for r in served.fake.requests if "series job" in _sent(r)]
    fresh_calls = [r for r in served.fake.requests if "fresh job" in _sent(r)]
    assert "remembered-series" not in _sent(series_calls[0]) and "remembered-series" in _sent(series_calls[1])
    assert all("remembered-fresh" not in _sent(r) for r in fresh_calls)


@pytest.mark.parametrize("wire", WIRES)
def test_chat_lines_share_the_sessions_conversation(served_sqlite: Served, wire: str) -> None:
    served = served_sqlite
    served.fake.reply("Nice to meet you, Ada")
    served.fake.reply("You are Ada")
    _start(served, wire)
    served.inbox.send("my name is Ada")
    served.wait_for("the first answer", lambda: served.inbox.outbox())
    served.inbox.send("what is my name?")
    served.wait_for("the second answer", lambda: len(served.inbox.outbox()) == 2)
    second = _sent(served.fake.requests[-1])
    assert "my name is Ada" in second and "Nice to meet you, Ada" in second


def test_a_silent_answer_delivers_nothing(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.reply("NO_REPLY")
    made = served.inbox.schedule("anything new on the status page?", in_="1s")
    _start(served, "openai")
    [run] = served.wait_for_runs(made.series_id, 1)
    assert run.outcome == "silent"
    assert served.inbox.outbox() == []


def test_a_series_over_its_daily_token_budget_pauses_once(served_sqlite: Served) -> None:
    served = served_sqlite  # each fake answer costs 10 + 5 tokens
    made = served.inbox.schedule("expensive digest", every="1s")
    _start(served, "openai", INBOX_SERIES_DAILY_TOKENS="20")
    served.wait_for("the pause", lambda: served.inbox.get(made.series_id).status == "paused")
    task = served.inbox.get(made.series_id)
    assert (task.reason or "").startswith("budget:")
    assert [r.outcome for r in served.runs(made.series_id)] == ["completed", "completed"]
    system = [o for o in served.inbox.outbox() if o.kind == "system"]
    assert len(system) == 1 and "budget" in system[0].text


def test_a_conversation_over_its_budget_is_summarized_and_the_summary_carried_on(served_sqlite: Served) -> None:
    served = served_sqlite

    def answer(request: RecordedRequest) -> ScriptedReply:
        system = str(request.json["messages"][0]["content"])
        if system.startswith("Summarize the conversation"):
            return ScriptedReply("SUMMARY: the user is Ada and likes tea")
        return ScriptedReply("noted " + "x" * 200)

    served.fake.respond_with(answer)
    _start(served, "openai", INBOX_HISTORY_TOKENS="120")
    for line in ("my name is Ada", "I like tea", "what do you know about me?"):
        served.inbox.send(line)
        count = len(served.inbox.outbox()) + 1
        served.wait_for(f"the answer to {line!r}", lambda n=count: len(served.inbox.outbox()) == n)
    last = served.fake.requests[-1]
    assert "SUMMARY: the user is Ada" in str(last.json["messages"][0]["content"])  # in the system prompt now
    assert "my name is Ada" not in _sent(last)  # the turns it stands for are no longer sent
    assert any("Summarize the conversation" in str(r.json["messages"][0]["content"]) for r in served.fake.requests)


@pytest.mark.parametrize("wire", WIRES)
def test_a_chat_line_makes_the_model_schedule_a_task_and_it_sees_the_real_result(
    served_sqlite: Served, wire: str
) -> None:
    served = served_sqlite
    asked = {"prompt": "Check my pull requests", "cron": "0 9 * * 1-5", "timezone": "Europe/London"}
    served.fake.reply("", tool_calls=[("schedule_task", asked)])
    served.fake.reply("Done: every weekday at 9 in London.")
    _start(served, wire)
    served.inbox.send("every weekday at 9 London time, check my pull requests")
    replies = served.wait_for("the answer", lambda: served.inbox.outbox())
    assert [r.text for r in replies] == ["Done: every weekday at 9 in London."]
    [task] = served.inbox.tasks()
    assert (task.timezone, task.created_by, task.schedule) == ("Europe/London", "agent:main", "cron 0 9 * * 1-5")
    tool_result = _sent(served.fake.requests[1])
    assert task.series_id in tool_result and "next_runs" in tool_result
    assert ("+00:00" in tool_result) or ("+01:00" in tool_result)  # fire times with their London offset


def test_invalid_tool_arguments_reach_the_model_as_an_error_and_write_nothing(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.reply("", tool_calls=[("schedule_task", {"prompt": "x", "cron": "61 * * * *"})])
    served.fake.reply("Sorry, that schedule was invalid.")
    _start(served, "openai")
    served.inbox.send("schedule something odd")
    served.wait_for("the answer", lambda: served.inbox.outbox())
    assert served.inbox.tasks(status="all") == []
    assert "cron" in _sent(served.fake.requests[1]) and "error" in _sent(served.fake.requests[1])


def test_a_task_can_use_its_own_provider_and_model(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.reply("answered by the other provider")
    other = served.inbox.schedule("use anthropic", in_="1s", provider="anthropic")
    unknown = served.inbox.schedule("use a model that does not exist", in_="1s", model="no-such-model")
    _start(served, "openai", ANTHROPIC_BASE_URL=served.fake.url, ANTHROPIC_API_KEY=HOST_KEY)
    [run] = served.wait_for_runs(other.series_id, 1)
    assert run.outcome == "completed"
    assert [r.api for r in served.fake.requests if "use anthropic" in _sent(r)] == ["anthropic"]
    [failed] = served.wait_for_runs(unknown.series_id, 1)
    assert failed.outcome == "failed" and "no-such-model" in (failed.error or "")  # permanent: no retry


def test_without_a_sandbox_the_model_is_offered_no_shell(served_sqlite: Served) -> None:
    served = served_sqlite
    _start(served, "openai")
    served.inbox.send("hello")
    served.wait_for("the answer", lambda: served.inbox.outbox())
    offered = {tool["function"]["name"] for tool in served.fake.requests[0].json["tools"]}
    assert "schedule_task" in offered and not offered & {"bash", "read_file", "write_file"}
