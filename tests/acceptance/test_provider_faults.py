"""The model provider misbehaving, end to end: real ``inbox serve`` hosts, process runners, the fake provider.

A rate limit's ``Retry-After`` is honoured (up to an hour) and the host sends nothing to that model meanwhile; a
provider that is down (5xx), rate limits everyone or hangs for longer than the host waits makes runs back off and
retry within their budget, without pausing the series or burying the outbox in notices; and a request that
cannot work (bad credentials, an unknown model, a rejected request) is sent once and fails at once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from scripts.fake_provider.server import RecordedRequest, Scripted, ScriptedError, ScriptedReply
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow

OUTAGE_OCCURRENCES = 11  # more than the ten failed occurrences in a row that pause a series


def test_a_rate_limit_is_retried_no_sooner_than_its_retry_after(served: Served) -> None:
    served.fake.error(429, retry_after=3, message="slow down")
    made = served.inbox.schedule("check the weather", in_="1s")
    served.start_host()
    runs = served.wait_for_runs(made.series_id, 2, timeout_s=30)
    assert [(r.outcome, r.attempt) for r in runs] == [("failed", 1), ("completed", 2)]
    # The backoff here is 1 s: the wait before the second attempt is the provider's 3 s.
    assert runs[1].started_at >= runs[0].ended_at + timedelta(seconds=3)
    assert len(served.fake.requests) == 2


def test_a_long_retry_after_holds_the_model_an_hour_at_most_and_nothing_is_sent_meanwhile(served: Served) -> None:
    served.fake.error(429, retry_after=86_400, message="daily limit reached")
    first = served.inbox.schedule("first", in_="1s")
    served.start_host()
    [failed] = served.wait_for_runs(first.series_id, 1)
    [retry] = served.live_rows(first.series_id)
    assert failed.outcome == "failed" and "429" in (failed.error or "")
    assert retry.status == "pending" and retry.process_after - failed.ended_at == timedelta(hours=1)
    # Another task for the same model meanwhile: the host does not send it, and retries it when the hour is up.
    second = served.inbox.schedule("second", in_="1s")
    [refused] = served.wait_for_runs(second.series_id, 1)
    assert refused.outcome == "failed" and "not sent" in (refused.error or ""), refused.error
    [later] = served.live_rows(second.series_id)
    assert timedelta(minutes=55) < later.process_after - refused.ended_at <= timedelta(hours=1)
    assert len(served.fake.requests) == 1


def _rides_out(served: Served, answer: Scripted, **env: str) -> None:
    """While the provider answers every call with ``answer``, an every-second series fails more occurrences than
    pause a series, each after its retry; it stays active, the outbox says so once, and it completes once the
    provider is back."""
    served.fake.outage(answer)
    made = served.inbox.schedule("hourly digest", every="1s", retries=1)
    served.start_host(**env)

    def failed_occurrences() -> int | None:
        ended = {r.message_id for r in served.runs(made.series_id) if r.outcome == "failed" and r.attempt == 2}
        return len(ended) if len(ended) >= OUTAGE_OCCURRENCES else None

    served.wait_for(f"{OUTAGE_OCCURRENCES} failed occurrences", failed_occurrences, timeout_s=120)
    [live] = served.live_rows(made.series_id)
    assert live.status in ("pending", "running") and live.consecutive_failures == 0
    runs = served.runs(made.series_id)
    assert {r.attempt for r in runs} == {1, 2}  # each occurrence was retried within its budget, and no more
    notices = [o for o in served.inbox.outbox() if o.kind == "system"]
    assert len(notices) == 1, [n.text for n in notices]  # told when the failures began, not at each occurrence
    served.fake.outage(None)
    served.wait_for("a completed run", lambda: any(r.outcome == "completed" for r in served.runs(made.series_id)))
    # Not paused: an every-second series may be running its next slot by now, claimed up to 100 ms before it.
    assert served.inbox.get(made.series_id).status in ("active", "running")


def test_a_provider_down_for_a_while_neither_pauses_the_series_nor_buries_the_outbox(served: Served) -> None:
    _rides_out(served, ScriptedError(503, "upstream unavailable"))


def test_a_provider_rate_limiting_everyone_is_an_outage_too(served_sqlite: Served) -> None:
    _rides_out(served_sqlite, ScriptedError(429, "too many requests", retry_after=1))


def test_a_provider_that_hangs_past_the_model_timeout_is_an_outage_too(served_sqlite: Served) -> None:
    _rides_out(served_sqlite, ScriptedReply("too late", delay_s=60), INBOX_MODEL_TIMEOUT="1")


CANNOT_WORK: dict[str, tuple[dict[str, str], Scripted | None, str]] = {
    "bad credentials": ({"OPENAI_API_KEY": "sk-wrong"}, None, "credentials rejected"),
    "an unknown model": ({"INBOX_MODEL": "no-such-model"}, None, "unknown model"),
    "a rejected request": ({}, ScriptedError(400, "messages: too long"), "request rejected"),
}


@pytest.mark.parametrize("why", list(CANNOT_WORK))
def test_a_request_that_cannot_work_is_sent_once_and_fails_at_once(served_sqlite: Served, why: str) -> None:
    served = served_sqlite
    env, answer, reason = CANNOT_WORK[why]
    served.fake.outage(answer)
    made = served.inbox.schedule("summarize my mail", every="1s", retries=3)
    served.start_host(**env)
    served.wait_for("two occurrences", lambda: len({r.message_id for r in served.runs(made.series_id)}) >= 2)
    time.sleep(2.5)  # longer than the retry backoff: a transient failure would have been retried by now
    served.stop_hosts()  # running work reports first: every request made has its run recorded
    runs = served.runs(made.series_id)
    assert runs and all(r.outcome == "failed" and r.attempt == 1 for r in runs), [(r.attempt, r.error) for r in runs]
    assert reason in (runs[0].error or ""), runs[0].error
    assert len(served.fake.requests) == len(runs)  # one request per occurrence, none for a retry


def test_a_summary_the_provider_fails_for_being_down_is_not_followed_by_the_turn_itself(served_sqlite: Served) -> None:
    served = served_sqlite
    down = {"now": False}

    def answer(request: RecordedRequest) -> Scripted:
        if down["now"]:
            return ScriptedError(503, "upstream unavailable")
        return ScriptedReply("noted " + "x" * 200)

    served.fake.respond_with(answer)
    served.start_host(INBOX_HISTORY_TOKENS="120")
    for line in ("my name is Ada", "I like tea"):
        served.inbox.send(line)
        count = len(served.inbox.outbox()) + 1
        served.wait_for(f"the answer to {line!r}", lambda n=count: len(served.inbox.outbox()) == n)
    down["now"] = True
    before = len(served.fake.requests)
    third = served.inbox.send("what do you know about me?")
    [failed] = served.wait_for_runs(third.id, 1)
    assert failed.outcome == "failed" and "503" in (failed.error or "")
    sent = served.fake.requests[before:]
    assert len(sent) == 1 and str(sent[0].json["messages"][0]["content"]).startswith("Summarize the conversation")
    down["now"] = False
    served.wait_for(
        "the answer once the provider is back", lambda: served.inbox.message(third.id).status == "completed"
    )
