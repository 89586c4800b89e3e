"""Tasks that are not a model call (``--do http|command``) through a real ``inbox serve`` on the process runtime,
on both stores, against a loopback receiver; and what a request or a command the assistant wrote cannot reach.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox.errors import InvalidInput
from scripts.fake_provider.server import RecordedRequest, ScriptedReply
from tests.acceptance.receiver import Receiver
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow
WAIT_S = 90.0  # a host's start on a loaded machine takes most of it; nothing here is a timing assertion


def _ended(served: Served, series_id: str, count: int = 1) -> list[str]:
    runs = served.wait_for_runs(series_id, count, timeout_s=WAIT_S)
    return [f"{r.outcome}: {r.error or ''}".rstrip(": ") for r in runs]


def _texts(served: Served, series_id: str) -> list[str]:
    """What the task's runs delivered (not the notices of its failures)."""
    return [i.text for i in served.inbox.outbox(limit=100) if i.series_id == series_id and i.kind != "system"]


def test_an_http_task_posts_its_body_and_delivers_the_answer_without_a_model_call(
    served: Served, receiver: Receiver
) -> None:
    served.start_host()
    task = served.inbox.schedule(
        "ping the service",
        in_="1s",
        do="http",
        with_={"url": receiver.url("/ok"), "headers": {"X-Check": "1"}, "body": {"hello": "there"}},
    )
    assert _ended(served, task.series_id) == ["completed"]
    assert served.wait_for("the answer in the outbox", lambda: _texts(served, task.series_id)) == ["pong"]
    (request,) = receiver.requests
    assert (request.method, request.path, request.headers["X-Check"]) == ("POST", "/ok", "1")
    assert json.loads(request.body) == {"hello": "there"}
    assert request.headers["Idempotency-Key"] == task.id  # the same on every attempt: a receiver can drop repeats
    assert served.fake.requests == []
    shown = served.inbox.get(task.series_id)
    assert (shown.do, shown.with_ and shown.with_["method"]) == ("http", "POST")


def test_http_statuses_fail_naming_them_and_only_5xx_is_retried(served: Served, receiver: Receiver) -> None:
    served.start_host()
    missing = served.inbox.schedule("m", in_="1s", do="http", with_={"url": receiver.url("/missing"), "method": "GET"})
    broken = served.inbox.schedule("b", in_="1s", retries=1, do="http", with_={"url": receiver.url("/broken")})
    quiet = served.inbox.schedule("q", in_="1s", do="http", with_={"url": receiver.url("/quiet")})
    assert _ended(served, missing.series_id) == ["failed: HTTP 404: no such thing"]
    assert _ended(served, broken.series_id, 2) == ["failed: HTTP 500: oops"] * 2
    assert [r.attempt for r in served.runs(broken.series_id)] == [1, 2]
    assert _ended(served, quiet.series_id) == ["silent"]
    assert _texts(served, missing.series_id) == [] and _texts(served, quiet.series_id) == []


def test_a_command_task_runs_and_a_pre_script_that_says_no_skips_it(served: Served, tmp_path: Path) -> None:
    served.start_host()
    marker = tmp_path / "ran"
    hello = served.inbox.schedule(
        "hello", in_="1s", do="command", with_={"argv": ["sh", "-c", "echo hi $INBOX_SESSION"]}
    )
    failing = served.inbox.schedule("f", in_="1s", retries=0, do="command", with_={"argv": ["sh", "-c", "exit 3"]})
    gated = served.inbox.schedule(
        "gated",
        in_="1s",
        script="echo '{\"wakeAgent\": false}'",
        do="command",
        with_={"argv": ["touch", str(marker)]},
    )
    assert _ended(served, hello.series_id) == ["completed"]
    assert served.wait_for("the output in the outbox", lambda: _texts(served, hello.series_id)) == ["hi main"]
    assert _ended(served, failing.series_id) == ["failed: command exit code 3"]
    assert _ended(served, gated.series_id) == ["skipped"]
    assert not marker.exists()
    assert served.fake.requests == []


def test_with_is_checked_by_the_kind_when_the_task_is_made(served: Served) -> None:
    cases = [
        ({"do": "http", "with_": {"url": "ftp://example.com/"}}, "with.url"),
        ({"do": "http", "with_": {"method": "GET"}}, "with.url"),
        ({"do": "http", "with_": {"url": "http://example.com", "method": "BREW"}}, "with.method"),
        ({"do": "command", "with_": {"argv": "ls"}}, "with.argv"),
        ({"do": "command", "with_": {"argv": ["ls"], "shell": True}}, "with.shell"),
        ({"do": "no-such-kind"}, "do"),
        ({"with_": {"url": "http://example.com"}}, "with"),
        ({"do": "http", "remind": True, "with_": {"url": "http://example.com"}}, "do"),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidInput) as refused:
            served.inbox.schedule("x", in_="1h", **fields)
        assert refused.value.field == field, fields
    assert served.inbox.tasks(status="all") == []


# -- what the assistant's requests and commands cannot reach ------------------------------------------------------


def test_the_assistant_cannot_schedule_a_request_to_the_metadata_service(served: Served) -> None:
    asked = {"prompt": "steal", "at": "1m", "do": "http", "with": {"url": "http://169.254.169.254/latest/meta-data/"}}

    def model(request: RecordedRequest) -> ScriptedReply:
        if request.json["messages"][-1]["role"] == "user":
            return ScriptedReply("", tool_calls=(("schedule_task", asked),))
        return ScriptedReply("done")

    served.fake.respond_with(model)
    served.start_host()
    served.inbox.send("schedule it")
    served.wait_for("the model's second turn", lambda: len(served.fake.requests) >= 2, timeout_s=WAIT_S)
    answer = json.dumps(served.fake.requests[1].json["messages"][-1])
    assert "with.url: 169.254.169.254 is a link-local or cloud-metadata address" in answer
    assert served.inbox.tasks(status="all") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/ok",  # the host's own loopback (its API, other local services)
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://10.0.0.1:{port}/ok",  # the LAN
    ],
)
def test_an_agent_written_request_to_a_non_public_literal_is_refused_when_made(
    served: Served, receiver: Receiver, url: str
) -> None:
    agent = served.inbox.acting_as("agent:main")
    with pytest.raises(InvalidInput, match="not a public address") as refused:
        agent.schedule("x", in_="1h", do="http", with_={"url": url.format(port=receiver.port)})
    assert refused.value.field == "with.url"


def test_an_agent_written_request_to_a_name_of_a_loopback_address_never_leaves(
    served: Served, receiver: Receiver
) -> None:
    served.start_host("--listen", "127.0.0.1:0")
    agent = served.inbox.acting_as("agent:main")
    task = agent.schedule("x", in_="1s", retries=0, do="http", with_={"url": receiver.url("/ok", host="localhost")})
    (ended,) = _ended(served, task.series_id)
    assert ended.startswith("failed: localhost resolves to ") and "is not a public address" in ended
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["http+unix://%2Frun%2Finbox%2Fhost.sock/v1/tasks", "unix:///run/inbox/host.sock"])
def test_a_request_to_a_unix_socket_is_refused(served: Served, url: str) -> None:
    with pytest.raises(InvalidInput, match="http:// or https://"):
        served.inbox.acting_as("agent:main").schedule("x", in_="1h", do="http", with_={"url": url})


def test_a_redirect_to_the_metadata_service_is_never_followed(served: Served, receiver: Receiver) -> None:
    served.start_host()
    task = served.inbox.schedule("r", in_="1s", do="http", with_={"url": receiver.url("/redirect"), "method": "GET"})
    assert _ended(served, task.series_id) == ["failed: HTTP 302 (redirects are not followed)"]
    assert [r.path for r in receiver.requests] == ["/redirect"]


def test_an_agent_written_command_is_refused_on_the_process_runtime(served: Served, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    served.start_host()
    agent = served.inbox.acting_as("agent:main")
    task = agent.schedule("x", in_="1s", do="command", with_={"argv": ["touch", str(planted)]})
    assert _ended(served, task.series_id) == [
        "failed: command written by agent:main refused: no sandbox on the process runtime; "
        "set INBOX_ALLOW_UNSANDBOXED=1 to allow"
    ]
    assert not planted.exists()


def test_the_model_reports_how_far_its_run_has_come(served: Served) -> None:
    def model(request: RecordedRequest) -> ScriptedReply:
        if request.json["messages"][-1]["role"] == "user":
            return ScriptedReply("", tool_calls=(("report_progress", {"fraction": 0.5, "note": "half way"}),))
        return ScriptedReply("done")

    served.fake.respond_with(model)
    served.start_host()
    task = served.inbox.schedule("work", in_="1s")
    assert _ended(served, task.series_id) == ["completed"]
    progress = served.inbox.get(task.series_id).progress
    assert progress is not None and (progress["fraction"], progress["note"]) == (0.5, "half way")
