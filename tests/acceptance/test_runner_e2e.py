"""End to end through real ``inbox serve`` hosts, their process runners, and the fake model server.

Each test is something a user would notice: an answer arrives once, a rate limit is retried, bad credentials
fail at once, a dead runner or host loses nothing, a pause or cancel during a run takes effect, and the
scripts' outcomes are told apart.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from scripts.fake_provider.server import RecordedRequest, ScriptedReply
from tests.acceptance.served import HOST_KEY, Served

pytestmark = pytest.mark.slow


def _system_prompt(request: RecordedRequest) -> str:
    return str(request.json["messages"][0]["content"])


def _user_text(request: RecordedRequest) -> str:
    return str(request.json["messages"][-1]["content"])


def test_a_chat_message_is_answered_and_the_runner_never_holds_the_key(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.reply("Hello from the model")
    host = served.start_host()
    sent = served.inbox.send("hi there")
    replies = served.wait_for("a reply", lambda: served.inbox.outbox(session="main"))
    assert [(r.text, r.in_reply_to, r.kind) for r in replies] == [("Hello from the model", sent.id, "reply")]
    request = served.fake.requests[-1]
    assert request.headers["authorization"] == f"Bearer {HOST_KEY}"  # the host added its key
    assert "Current time:" in _system_prompt(request) and "UTC" in _system_prompt(request)
    assert _user_text(request) == "hi there"
    pids = served.runner_pids(host)
    assert pids, "the runner should still be warm"
    for pid in pids:
        assert HOST_KEY.encode() not in Path(f"/proc/{pid}/environ").read_bytes()


def test_a_rate_limit_is_retried_and_then_answered(served: Served) -> None:
    served.fake.error(429, retry_after=1, message="slow down")
    served.fake.reply("second time lucky")
    made = served.inbox.schedule("check the weather", in_="1s")
    served.start_host()
    runs = served.wait_for_runs(made.series_id, 2)
    assert [(r.outcome, r.attempt) for r in runs] == [("failed", 1), ("completed", 2)]
    assert "429" in (runs[0].error or "") and "rate_limited" in (runs[0].error or "")
    assert [o.text for o in served.inbox.outbox()] == ["second time lucky"]


def test_bad_credentials_fail_the_occurrence_at_once(served: Served) -> None:
    made = served.inbox.schedule("summarize my mail", in_="1s")
    served.start_host(OPENAI_API_KEY="sk-wrong")
    runs = served.wait_for("a run", lambda: served.runs(made.series_id))
    time.sleep(2.5)  # longer than the retry backoff: a transient failure would have been retried by now
    runs = served.runs(made.series_id)
    assert [(r.outcome, r.attempt) for r in runs] == [("failed", 1)]
    assert "credentials rejected" in (runs[0].error or "")
    assert served.inbox.get(made.series_id).status == "ended"
    notices = served.inbox.outbox()  # no reply; one notice saying the task failed for good, and why
    assert [(o.kind, o.in_reply_to) for o in notices] == [("system", made.id)]
    assert "credentials rejected" in notices[0].text


SCRIPTS = {
    "skips": ("echo '{\"wakeAgent\": false}'", "skipped", None),
    "exits non-zero": ("echo oops >&2; exit 3", "script_error", "exit code 3"),
    "prints no JSON": ("echo not json", "script_error", "JSON"),
    "says yes as a string": ('echo \'{"wakeAgent": "yes"}\'', "script_error", "boolean"),
    "overruns its time": ("sleep 5", "script_error", "timed out after 1 s"),
    "wakes with falsy data": ('echo \'{"wakeAgent": true, "data": 0}\'', "completed", None),
}


def test_each_script_outcome_is_recorded_as_such(served_sqlite: Served) -> None:
    served = served_sqlite
    made = {
        name: served.inbox.schedule(
            f"task that {name}", in_="1s", script=script, timeout="1s" if "time" in name else None
        )
        for name, (script, _, _) in SCRIPTS.items()
    }
    served.start_host()
    for name, (_, outcome, reason) in SCRIPTS.items():
        runs = served.wait_for(f"the run of the task that {name}", lambda n=name: served.runs(made[n].series_id))
        assert [r.outcome for r in runs] == [outcome], name
        if reason:
            assert reason in (runs[0].error or ""), (name, runs[0].error)
    assert "oops" in (served.runs(made["exits non-zero"].series_id)[0].error or "")  # the stderr tail is kept
    assert len(served.fake.requests) == 1  # only the script that woke the agent cost a model call
    assert "Data from the task's pre-script:\n0" in _user_text(served.fake.requests[0])


def test_a_runner_killed_mid_run_has_its_work_retried(served: Served) -> None:
    served.fake.slow(4.0, "the answer that never lands")
    made = served.inbox.schedule("long report", in_="1s")
    host = served.start_host()
    served.wait_for("the model call to start", lambda: served.fake.requests)
    for pid in served.runner_pids(host):
        os.kill(pid, signal.SIGKILL)
    runs = served.wait_for_runs(made.series_id, 2)
    assert [(r.outcome, r.attempt) for r in runs] == [("interrupted", 1), ("completed", 2)]
    assert "died: killed by SIGKILL" in (runs[0].error or "")  # the host saw its child die: no lease wait
    assert [o.text for o in served.inbox.outbox()] == ["ok"]  # exactly one answer, from the retry


def test_a_host_killed_mid_run_leaves_one_live_row_and_loses_nothing(served: Served) -> None:
    served.fake.respond_with(lambda _: ScriptedReply("done", delay_s=1.0))
    made = served.inbox.schedule("tick", every="2s")
    host = served.start_host()
    served.wait_for("a model call in flight", lambda: served.fake.requests)
    runners = served.runner_pids(host)
    served.kill_host(host)
    served.wait_for("the orphaned runner to stop", lambda: not any(Path(f"/proc/{p}").exists() for p in runners))
    served.start_host()
    served.wait_for(
        "three completed runs after the restart",
        lambda: sum(r.outcome == "completed" for r in served.runs(made.series_id)) >= 3,
        timeout_s=30,
    )
    served.stop_hosts()
    assert len(served.live_rows(made.series_id)) == 1
    with transaction(served.inbox.engine) as db:
        runs = db.exec(select(Run).where(Run.series_id == made.series_id)).all()
    completed = Counter(r.message_id for r in runs if r.outcome == "completed")
    assert max(completed.values()) == 1  # no occurrence completed twice
    assert any(r.outcome == "interrupted" for r in runs)  # the killed run was recovered, not lost
    replies = Counter(o.in_reply_to for o in served.inbox.outbox(limit=1000))
    assert max(replies.values()) == 1 and sum(replies.values()) == len(completed)


def test_pausing_during_a_run_pauses_its_follow_up(served: Served) -> None:
    served.fake.respond_with(lambda _: ScriptedReply("slow answer", delay_s=2.0))
    made = served.inbox.schedule("weekly review", every="3s")
    served.start_host()
    served.wait_for("the run to start", lambda: served.fake.requests)
    served.inbox.pause(made.series_id)
    served.wait_for("the run to end", lambda: served.runs(made.series_id))
    time.sleep(3.5)  # the next slot passes while paused
    assert [r.outcome for r in served.runs(made.series_id)] == ["completed"]
    assert [r.status for r in served.live_rows(made.series_id)] == ["paused"]
    served.inbox.resume(made.series_id)
    served.wait_for("a run after resuming", lambda: len(served.runs(made.series_id)) >= 2)


def test_cancelling_during_a_run_writes_no_follow_up(served: Served) -> None:
    served.fake.respond_with(lambda _: ScriptedReply("slow answer", delay_s=2.0))
    made = served.inbox.schedule("daily check", every="3s")
    served.start_host()
    served.wait_for("the run to start", lambda: served.fake.requests)
    served.inbox.cancel(made.series_id)
    served.wait_for("the run to end", lambda: served.runs(made.series_id))
    time.sleep(3.5)
    assert [r.outcome for r in served.runs(made.series_id)] == ["completed"]  # the run in flight still counts
    assert served.live_rows(made.series_id) == []
    assert served.inbox.get(made.series_id).status == "cancelled"


def _last_nine_utc(now: datetime) -> datetime:
    slot = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return slot if slot <= now - timedelta(minutes=2) else slot - timedelta(days=1)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("once", ["completed"]), ("skip", ["missed"] * 3), ("all", ["completed"] * 3)],
)
def test_a_host_down_across_three_daily_slots_follows_the_catch_up_policy(
    served_sqlite: Served, policy: str, expected: list[str]
) -> None:
    served = served_sqlite
    made = served.inbox.schedule("morning digest", cron="0 9 * * *", catch_up=policy)
    last = _last_nine_utc(datetime.now(UTC))
    with transaction(served.inbox.engine) as db:  # as if the host had been down since three slots ago
        row = db.exec(select(MessageIn).where(MessageIn.id == made.id)).one()
        row.occurrence_at = row.process_after = last - timedelta(days=2)
    served.start_host()
    served.wait_for(
        "the catch-up", lambda: served.live_rows(made.series_id)[0].occurrence_at == last + timedelta(days=1)
    )
    served.stop_hosts()
    assert sorted(r.outcome for r in served.runs(made.series_id)) == expected
    assert len(served.inbox.outbox()) == expected.count("completed")


def test_two_hosts_never_run_one_slot_twice(served: Served) -> None:
    series = [served.inbox.schedule(f"job {i}", every="1s").series_id for i in range(4)]
    served.start_host()
    served.start_host()

    def completed_runs() -> Counter[str] | None:
        with transaction(served.inbox.engine) as db:
            found = Counter(r.message_id for r in db.exec(select(Run)).all() if r.outcome == "completed")
        return found if len(found) >= 4 * 3 else None

    # Until both hosts have run three slots of each series (however slowly a loaded machine starts them).
    served.wait_for("twelve completed runs", completed_runs, timeout_s=120)
    served.stop_hosts()
    completed = completed_runs()
    assert completed is not None
    assert max(completed.values()) == 1
    replies = Counter(o.in_reply_to for o in served.inbox.outbox(limit=1000))
    assert max(replies.values()) == 1 and len(replies) == len(completed)
    assert all(len(served.live_rows(s)) == 1 for s in series)


def test_agent_written_scripts_are_refused_without_a_sandbox_unless_allowed(served_sqlite: Served) -> None:
    served = served_sqlite
    script = "echo '{\"wakeAgent\": true}'"
    with Inbox(served.inbox.url, env=served.env, actor="agent:main") as agent:
        refused = agent.schedule("agent's idea", in_="1s", script=script)
        served.start_host()
        runs = served.wait_for("the refusal", lambda: served.runs(refused.series_id))
        assert [r.outcome for r in runs] == ["script_error"]
        assert "INBOX_ALLOW_UNSANDBOXED=1" in (runs[0].error or "")
        served.stop_hosts()
        allowed = agent.schedule("agent's idea, allowed", in_="1s", script=script)
    served.start_host(INBOX_ALLOW_UNSANDBOXED="1")
    runs = served.wait_for("the allowed run", lambda: served.runs(allowed.series_id))
    assert [r.outcome for r in runs] == ["completed"]


def test_a_run_over_its_timeout_ends_timeout_and_the_series_continues(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.slow(3.0, "too late to matter")
    made = served.inbox.schedule("quick check", every="2s", timeout="1s")
    served.start_host()
    runs = served.wait_for_runs(made.series_id, 2)
    assert [r.outcome for r in runs[:2]] == ["timeout", "completed"]
    assert "timed out after 1 s" in (runs[0].error or "")
    replies = [o.text for o in served.inbox.outbox() if o.kind == "reply"]
    assert replies[:1] == ["ok"]  # the late answer was never delivered


def test_sigterm_lets_the_running_work_finish_and_report_before_the_host_exits(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.slow(2.0, "finished during shutdown")
    made = served.inbox.schedule("report in progress", in_="1s")
    host = served.start_host()
    served.wait_for("the model call", lambda: served.fake.requests)
    host.send_signal(signal.SIGTERM)
    assert host.wait(timeout=30) == 0
    assert [(r.outcome, r.attempt) for r in served.runs(made.series_id)] == [("completed", 1)]  # not interrupted
    assert [o.text for o in served.inbox.outbox()] == ["finished during shutdown"]


def test_work_still_running_at_the_shutdown_deadline_is_handed_back_and_retried_by_the_next_host(
    served_sqlite: Served,
) -> None:
    served = served_sqlite
    served.fake.slow(8.0, "answer from the first host")  # longer than the host's shutdown grace
    made = served.inbox.schedule("long report", in_="1s")
    host = served.start_host(INBOX_SHUTDOWN_GRACE="1")
    served.wait_for("the model call", lambda: served.fake.requests)
    stopped_at = time.monotonic()
    host.send_signal(signal.SIGTERM)
    assert host.wait(timeout=30) == 0
    assert time.monotonic() - stopped_at < 6  # the grace, not the run's length
    [interrupted] = served.runs(made.series_id)
    assert (interrupted.outcome, interrupted.attempt) == ("interrupted", 1)
    assert "host shutting down" in (interrupted.error or "")
    [row] = served.live_rows(made.series_id)
    assert row.status == "pending" and row.lease_owner is None  # handed back, not left to a lease

    served.fake.slow(0.1, "answer from the next host")
    served.start_host()
    runs = served.wait_for_runs(made.series_id, 2)
    assert [(r.outcome, r.attempt) for r in runs] == [("interrupted", 1), ("completed", 2)]
    assert [o.text for o in served.inbox.outbox()] == ["answer from the next host"]
