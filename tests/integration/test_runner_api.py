"""The runner protocol over a real unix socket: claim, heartbeat, results under lease fencing, the model proxy.

A uvicorn server in a thread serves the host app on an AF_UNIX socket; runners talk to it with HostClient and
the tokens the host issued, on every store backend. Model calls go to the scripted fake provider.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlmodel import col, select, update

from agent_runner.client import HostClient, LeaseLost
from agent_runner.loop import Runner, RunnerConfig
from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER, ClaimReply, ModelRequest, RunResult
from agent_runner.work import Sandbox
from inbox import Inbox
from inbox.config import load_settings
from inbox.store.claims import reclaim_expired
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut, Run
from inbox.store.types import utcnow
from scripts.fake_provider.server import FakeProvider
from sweeper.http.app import HostState, make_app
from sweeper.http.model_proxy import ModelProxy
from sweeper.http.runner_auth import RunnerIdentity
from sweeper.providers import ChatTurn, ProviderError
from tests.integration.unix_server import serving_on_unix_socket

HOST_KEY = "host-only-key"
LEASE = timedelta(seconds=2)


def ask(message_id: str, attempt: int = 1) -> ModelRequest:
    """A model turn for ``attempt`` of ``message_id``."""
    return ModelRequest(
        message_id=message_id, attempt=attempt, system="Be brief.", turns=[ChatTurn(role="user", text="hi")]
    )


@dataclass
class Host:
    inbox: Inbox
    state: HostState
    socket_path: str
    fake: FakeProvider
    clients: list[HostClient] = field(default_factory=list)

    def connect(self, token: str) -> HostClient:
        client = HostClient(self.socket_path, token, timeout_s=10)
        self.clients.append(client)
        return client

    def runner(self, session: str = "a", owner: str = "r-a") -> HostClient:
        return self.connect(self.state.runner_tokens.issue(RunnerIdentity(session=session, owner=owner)))

    def row(self, message_id: str) -> MessageIn:
        with transaction(self.inbox.engine) as db:
            row = db.get(MessageIn, message_id)
            assert row is not None
            return row

    def runs(self, message_id: str) -> list[Run]:
        with transaction(self.inbox.engine) as db:
            return list(db.exec(select(Run).where(Run.message_id == message_id).order_by(col(Run.id))).all())

    def outbox(self) -> list[MessageOut]:
        with transaction(self.inbox.engine) as db:
            return list(db.exec(select(MessageOut).order_by(col(MessageOut.id))).all())

    def series(self, series_id: str) -> list[MessageIn]:
        with transaction(self.inbox.engine) as db:
            query = select(MessageIn).where(MessageIn.series_id == series_id).order_by(col(MessageIn.occurrence_no))
            return list(db.exec(query).all())

    def holding(self, session: str = "a", owner: str = "r-a") -> tuple[HostClient, str]:
        """A runner of ``session`` and the id of a chat message it has claimed and holds."""
        message = self.inbox.send("hello?", session=session)
        runner = self.runner(session, owner)
        assert [item.id for item in runner.claim(limit=1, wait_s=0).items] == [message.id]
        return runner, message.id

    def make_due(self, message_id: str) -> None:
        with transaction(self.inbox.engine) as db:
            stmt = update(MessageIn).where(col(MessageIn.id) == message_id)
            db.exec(stmt.values(process_after=utcnow() - timedelta(seconds=1)))

    def take_back_expired(self) -> list[str]:
        """What the sweeper does once the 2 s lease has lapsed: the row is retried, its runner loses it."""
        with transaction(self.inbox.engine) as db:
            return [row.id for row in reclaim_expired(db, now=utcnow() + timedelta(seconds=3))]


@pytest.fixture
def host(store_url: str, tmp_path: Path) -> Iterator[Host]:
    fake = FakeProvider(api_key=HOST_KEY, models=["fake-model"]).start()
    env = {"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}
    provider_env = {"INBOX_PROVIDER": "openai", "INBOX_MODEL": "fake-model", "OPENAI_API_KEY": HOST_KEY}
    model = ModelProxy(load_settings({**env, **provider_env, "OPENAI_BASE_URL": fake.openai_base_url}))
    inbox = Inbox(store_url, env=env)
    state = HostState(inbox=inbox, admin_token="admin", model=model, lease=LEASE, backoff=(timedelta(seconds=1),) * 3)
    with serving_on_unix_socket(make_app(state)) as socket_path:
        served = Host(inbox=inbox, state=state, socket_path=socket_path, fake=fake)
        try:
            yield served
        finally:
            for client in served.clients:
                client.close()
            model.close()
            fake.stop()
            inbox.close()


def result(
    message_id: str, outcome: Literal["completed", "failed"] = "completed", attempt: int = 1, **fields: Any
) -> RunResult:
    return RunResult(id=message_id, attempt=attempt, outcome=outcome, started_at=utcnow(), **fields)


def status_of(call: Callable[[], object]) -> int:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        call()
    return refused.value.response.status_code


def test_a_runner_claims_only_its_sessions_due_rows(host: Host) -> None:
    mine = host.inbox.send("for a", session="a")
    theirs = host.inbox.send("for b", session="b")
    later = host.inbox.send("later for a", session="a", in_="1h")
    runner = host.runner()

    reply = runner.claim(limit=10, wait_s=0)

    assert [(item.id, item.session, item.text, item.attempt) for item in reply.items] == [(mine.id, "a", "for a", 1)]
    assert reply.lease_s == LEASE.total_seconds()
    row = host.row(mine.id)
    assert (row.status, row.lease_owner) == ("running", "r-a")
    assert row.lease_expires_at is not None and row.lease_expires_at > utcnow()
    assert [host.row(theirs.id).status, host.row(later.id).status] == ["pending", "pending"]
    assert runner.claim(limit=10, wait_s=0).items == []  # claimed once, and the later row is not due
    assert [item.id for item in host.runner("b", "r-b").claim(limit=10, wait_s=0).items] == [theirs.id]


def test_a_token_reaches_no_other_sessions_rows(host: Host) -> None:
    theirs = host.inbox.send("for b", session="b")
    host.runner("b", "r-b").claim(limit=1, wait_s=0)
    before = host.row(theirs.id)
    runner = host.runner()

    assert status_of(lambda: runner.report(result(theirs.id, reply="hijacked"))) == 403
    assert runner.heartbeat({theirs.id: 1}).lost == [theirs.id]
    token = host.state.runner_tokens.issue(RunnerIdentity(session="a", owner="r-a-public"))
    with httpx.Client(transport=httpx.HTTPTransport(uds=host.socket_path), base_url="http://host") as raw:
        listing = raw.get("/v1/tasks", params={"session": "b"}, headers={"authorization": f"Bearer {token}"})
    assert listing.status_code == 403  # nor through the public API

    after = host.row(theirs.id)
    fields = ("status", "lease_owner", "lease_expires_at", "tries", "reason")
    assert [getattr(after, name) for name in fields] == [getattr(before, name) for name in fields]
    assert (after.status, after.lease_owner) == ("running", "r-b")
    assert host.runs(theirs.id) == [] and host.outbox() == []


def test_unknown_and_revoked_tokens_get_401_on_every_route(host: Host) -> None:
    message = host.inbox.send("for a", session="a")
    revoked = host.runner()
    assert len(revoked.claim(limit=1, wait_s=0).items) == 1
    host.state.runner_tokens.revoke_owner("r-a")

    for client in (revoked, host.connect("not-a-token")):
        calls: list[Callable[[], object]] = [
            partial(client.claim, limit=1, wait_s=0),
            partial(client.heartbeat, {message.id: 1}),
            partial(client.report, result(message.id, reply="late")),
            partial(client.model, ask(message.id), timeout_s=10),
        ]
        assert [status_of(call) for call in calls] == [401, 401, 401, 401]
    with httpx.Client(transport=httpx.HTTPTransport(uds=host.socket_path)) as bare:
        assert bare.post("http://host/runner/v1/claim", json={}).status_code == 401
        # the token is checked before the body is read: a stranger's malformed JSON was answered 422
        for route in ("claim", "heartbeat", "results", "model", "tools", "history"):
            response = bare.post(
                f"http://host/runner/v1/{route}", content=b'{"li', headers={"content-type": "application/json"}
            )
            assert response.status_code == 401, (route, response.text)

    assert (host.row(message.id).status, host.runs(message.id), host.outbox()) == ("running", [], [])
    assert host.fake.requests == []  # the model was never called for them


def test_a_long_poll_returns_when_the_sessions_bell_rings(host: Host) -> None:
    runner = host.runner()
    replies: list[ClaimReply] = []
    poll = threading.Thread(target=lambda: replies.append(runner.claim(limit=4, wait_s=5)))
    started = time.monotonic()
    poll.start()
    time.sleep(0.3)  # the claim is waiting now
    message = host.inbox.send("wake up", session="a")
    host.state.doorbells.ring("a")
    poll.join(timeout=10)

    assert time.monotonic() - started < 3
    assert [[item.id for item in reply.items] for reply in replies] == [[message.id]]


def test_a_long_poll_with_nothing_due_returns_empty_after_wait_s(host: Host) -> None:
    host.inbox.send("for b", session="b")
    runner = host.runner()
    started = time.monotonic()

    reply = runner.claim(limit=4, wait_s=0.5)

    assert reply.items == []
    assert 0.45 <= time.monotonic() - started < 3


def test_heartbeat_renews_the_lease_until_it_is_taken_back(host: Host) -> None:
    message = host.inbox.send("long job", session="a")
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)
    first = host.row(message.id).lease_expires_at
    time.sleep(0.3)

    assert runner.heartbeat({message.id: 1}).lost == []
    renewed = host.row(message.id).lease_expires_at
    assert first is not None and renewed is not None and renewed - first >= timedelta(seconds=0.25)

    assert host.take_back_expired() == [message.id]
    assert runner.heartbeat({message.id: 1}).lost == [message.id]
    row = host.row(message.id)
    assert (row.status, row.lease_owner, row.tries) == ("pending", None, 1)  # the heartbeat did not revive it


def test_a_late_result_after_the_lease_was_taken_back_is_refused(host: Host) -> None:
    message = host.inbox.send("slow job", session="a")
    late, retry = host.runner(), host.runner("a", "r-a2")
    late.claim(limit=1, wait_s=0)
    assert host.take_back_expired() == [message.id]
    host.make_due(message.id)
    assert [item.attempt for item in retry.claim(limit=1, wait_s=0).items] == [2]
    taken_back = [(run.outcome, run.runner) for run in host.runs(message.id)]
    assert taken_back == [("interrupted", "r-a")]

    with pytest.raises(LeaseLost):
        late.report(result(message.id, reply="too late"))

    assert [(run.outcome, run.runner) for run in host.runs(message.id)] == taken_back
    assert host.outbox() == []
    assert (host.row(message.id).status, host.row(message.id).lease_owner) == ("running", "r-a2")
    assert retry.report(result(message.id, attempt=2, reply="on time")).status == "completed"
    assert [item.text for item in host.outbox()] == ["on time"]


def test_a_completed_result_delivers_its_reply_once(host: Host) -> None:
    message = host.inbox.send("hello?", session="a")
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)

    ended = runner.report(result(message.id, reply="hello back", model_output="hello back"))

    assert (ended.status, ended.follow_up_id) == ("completed", None)
    [out] = host.outbox()
    assert (out.session, out.kind, out.text, out.in_reply_to) == ("a", "reply", "hello back", message.id)
    [run] = host.runs(message.id)
    assert (run.outcome, run.runner, run.model_output) == ("completed", "r-a", "hello back")
    assert (host.row(message.id).status, host.row(message.id).lease_owner) == ("completed", None)


def test_nul_bytes_and_lone_surrogates_in_a_result_are_kept_as_replacement_characters(host: Host) -> None:
    """A script that prints a NUL byte must not lose its run on PostgreSQL, which cannot store one (it was a 500)."""
    message = host.inbox.send("hello?", session="a")
    token = host.state.runner_tokens.issue(RunnerIdentity(session="a", owner="r-raw"))
    headers = {"authorization": f"Bearer {token}", VERSION_HEADER: PROTOCOL_VERSION, "content-type": "application/json"}
    odd = {"reply": "a\x00b", "script_output": "bin\x00ary", "model_output": "half \ud800 pair"}
    ending = {"id": message.id, "attempt": 1, "outcome": "completed", "started_at": "2026-06-01T12:00:00Z", **odd}
    with httpx.Client(transport=httpx.HTTPTransport(uds=host.socket_path), base_url="http://host") as raw:
        assert raw.post("/runner/v1/claim", json={"limit": 1}, headers=headers).status_code == 200
        # json.dumps writes them as the \u0000 and \ud800 escapes a runner in any language could send
        lost = raw.post("/runner/v1/heartbeat", content=json.dumps({"leases": {"x\x00y": 1}}), headers=headers)
        ended = raw.post("/runner/v1/results", content=json.dumps(ending), headers=headers)

    assert (lost.status_code, lost.json()) == (200, {"lost": ["x\ufffdy"]})
    assert ended.status_code == 200, ended.text
    [out] = host.outbox()
    assert out.text == "a\ufffdb"
    [run] = host.runs(message.id)
    assert (run.outcome, run.script_output, run.model_output) == ("completed", "bin\ufffdary", "half \ufffd pair")


def test_a_recurring_task_gets_one_follow_up_and_a_repeated_result_writes_nothing(host: Host) -> None:
    made = host.inbox.schedule("p", every="1h", session="a")
    host.make_due(made.id)
    runner = host.runner()
    assert [item.id for item in runner.claim(limit=4, wait_s=0).items] == [made.id]

    ended = runner.report(result(made.id))

    assert ended.status == "completed"
    first, follow_up = host.series(made.series_id)
    assert ended.follow_up_id == follow_up.id and follow_up.status == "pending"
    assert first.occurrence_at is not None and follow_up.occurrence_at == first.occurrence_at + timedelta(hours=1)
    with pytest.raises(LeaseLost):
        runner.report(result(made.id))
    assert [row.id for row in host.series(made.series_id)] == [made.id, follow_up.id]
    assert len(host.runs(made.id)) == 1 and host.outbox() == []


def test_a_transient_failure_is_retried_no_sooner_than_retry_after(host: Host) -> None:
    message = host.inbox.send("call the model", session="a")
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)
    reported_at = utcnow()

    ended = runner.report(result(message.id, "failed", error="HTTP 429", transient=True, retry_after_s=5))

    assert ended.status == "pending"
    row = host.row(message.id)
    assert (row.status, row.tries, row.lease_owner, row.reason) == ("pending", 1, None, "HTTP 429")
    assert row.process_after >= reported_at + timedelta(seconds=4.9)  # Retry-After beats the 1 s backoff
    assert [(run.outcome, run.error) for run in host.runs(message.id)] == [("failed", "HTTP 429")]
    assert runner.claim(limit=1, wait_s=0).items == []


def test_a_permanent_failure_ends_the_row_at_once(host: Host) -> None:
    message = host.inbox.send("bad prompt", session="a")
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)

    ended = runner.report(result(message.id, "failed", error="HTTP 401 from the provider"))

    assert ended.status == "failed"
    row = host.row(message.id)
    assert (row.status, row.tries, row.reason) == ("failed", 0, "HTTP 401 from the provider")
    assert [(run.outcome, run.error) for run in host.runs(message.id)] == [("failed", "HTTP 401 from the provider")]


def test_the_model_is_called_with_the_hosts_key(host: Host) -> None:
    host.fake.reply("scripted answer", input_tokens=12)
    message = host.inbox.send("hello?", session="a")
    token = host.state.runner_tokens.issue(RunnerIdentity(session="a", owner="r-a"))
    host.connect(token).claim(limit=1, wait_s=0)

    reply = host.connect(token).model(ask(message.id), timeout_s=10)

    assert (reply.text, reply.usage.input_tokens) == ("scripted answer", 12)
    [sent] = host.fake.requests
    assert sent.headers["authorization"] == f"Bearer {HOST_KEY}"
    assert token not in str(sent.headers)  # the runner's own credential stays between it and the host
    assert sent.json["model"] == "fake-model"
    assert sent.json["messages"][-1] == {"role": "user", "content": "hi"}


def test_provider_errors_come_back_classified_and_a_retry_after_holds_the_model(host: Host) -> None:
    host.fake.error(401)
    host.fake.error(429, retry_after=7)
    runner, held = host.holding()

    with pytest.raises(ProviderError) as refused:
        runner.model(ask(held), timeout_s=10)
    with pytest.raises(ProviderError) as limited:
        runner.model(ask(held), timeout_s=10)
    with pytest.raises(ProviderError) as held_back:  # within the 7 s: not sent, answered as the provider would
        runner.model(ask(held), timeout_s=10)

    assert (refused.value.kind, refused.value.transient, refused.value.status) == ("auth", False, 401)
    assert (limited.value.kind, limited.value.transient, limited.value.retry_after_s) == ("rate_limited", True, 7)
    assert (held_back.value.kind, held_back.value.transient) == ("rate_limited", True)
    assert 0 < (held_back.value.retry_after_s or 0) <= 7 and "not sent" in held_back.value.message
    assert len(host.fake.requests) == 2


@pytest.mark.parametrize("configured", ["empty env", "no proxy"])
def test_without_a_provider_the_error_names_what_to_set(host: Host, tmp_path: Path, configured: str) -> None:
    host.state.model = ModelProxy(load_settings({"INBOX_HOME": str(tmp_path)})) if configured == "empty env" else None

    runner, held = host.holding()

    with pytest.raises(ProviderError) as missing:
        runner.model(ask(held), timeout_s=10)

    assert not missing.value.transient
    assert "INBOX_PROVIDER" in missing.value.message and "INBOX_MODEL" in missing.value.message
    assert host.fake.requests == []


def test_a_runner_cannot_report_its_taken_back_attempt_over_its_own_retry(host: Host) -> None:
    message = host.inbox.send("slow job", session="a")
    runner = host.runner()
    runner.claim(limit=1, wait_s=0)
    assert host.take_back_expired() == [message.id]
    host.make_due(message.id)
    assert [item.attempt for item in runner.claim(limit=1, wait_s=0).items] == [2]  # the same runner again

    with pytest.raises(LeaseLost):
        runner.report(result(message.id, attempt=1, reply="from the first attempt"))
    assert runner.heartbeat({message.id: 1}).lost == [message.id]

    assert host.outbox() == []
    assert runner.report(result(message.id, attempt=2, reply="from the retry")).status == "completed"
    assert [item.text for item in host.outbox()] == ["from the retry"]


def test_many_idle_runners_waiting_do_not_stall_the_others(host: Host) -> None:
    waiting = [host.runner(f"idle{i}", f"r-idle{i}") for i in range(60)]  # more than the server's worker threads
    returned: list[float] = []
    threads = [
        threading.Thread(target=lambda r=r: (r.claim(limit=1, wait_s=4), returned.append(time.monotonic())))
        for r in waiting
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every claim is now waiting for its bell
    message = host.inbox.send("urgent", session="a")
    runner = host.runner()
    assert [item.id for item in runner.claim(limit=1, wait_s=0).items] == [message.id]
    assert runner.report(result(message.id, reply="done")).status == "completed"
    assert returned == []  # answered while all sixty were still waiting
    for thread in threads:
        thread.join(timeout=10)
    assert len(returned) == 60


def test_a_runner_built_from_other_code_is_told_so_at_once(host: Host) -> None:
    message = host.inbox.send("for a", session="a")
    token = host.state.runner_tokens.issue(RunnerIdentity(session="a", owner="r-old"))
    with httpx.Client(transport=httpx.HTTPTransport(uds=host.socket_path), base_url="http://host") as old:
        answer = old.post(
            "/runner/v1/claim", json={"limit": 1, "wait_s": 0}, headers={"authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 426 and "inbox runner build" in answer.json()["error"]
    assert host.row(message.id).status == "pending"  # it was handed nothing


def test_a_fault_inside_the_runner_is_reported_with_its_cause_not_left_to_the_lease(host: Host) -> None:
    message = host.inbox.send("hello", session="a")
    client = host.runner()
    [item] = client.claim(limit=1, wait_s=0).items
    broken = item.model_copy(update={"timezone": "Not/A_Zone"})  # the runner cannot build its prompt
    Runner(client, RunnerConfig(session="a"), Sandbox())._finish(broken)
    [run] = host.runs(message.id)
    assert run.outcome == "failed" and (run.error or "").startswith("runner error: ZoneInfoNotFoundError")
    assert (host.row(message.id).status, host.row(message.id).tries) == ("pending", 1)  # retried, not lost


def test_an_agent_item_comes_with_its_conversation_unless_a_pre_script_runs_first(host: Host) -> None:
    """The runner asks the model first thing for a chat line: its history comes with the claim, so no request to
    /history stands between the claim and the model. An item with a pre-script asks for it after the script."""
    first = host.inbox.send("my name is Ada", session="a")
    runner = host.runner()
    [item] = runner.claim(limit=1, wait_s=0).items
    assert item.history is not None and (item.history.mode, item.history.turns) == ("session", [])
    said = [ChatTurn(role="user", text="my name is Ada"), ChatTurn(role="assistant", text="Hello Ada")]
    runner.report(result(first.id, reply="Hello Ada", new_turns=said))

    second = host.inbox.send("what is my name?", session="a")
    host.inbox.schedule("remember this", in_="1s", session="b")  # another session's conversation stays its own
    time.sleep(1.1)
    items = {item.text: item for item in runner.claim(limit=10, wait_s=0).items}
    assert set(items) == {"what is my name?"}
    shipped = items["what is my name?"].history
    assert shipped is not None and [(t.role, t.text) for t in shipped.turns] == [
        ("user", "my name is Ada"),
        ("assistant", "Hello Ada"),
    ]
    assert shipped == runner.history(second.id)  # what /history answers for the same row
    scripted = host.inbox.schedule("run the script", in_="1s", session="a", script="echo '{\"wakeAgent\": true}'")
    time.sleep(1.1)
    [later] = runner.claim(limit=10, wait_s=0).items
    assert (later.id, later.history) == (scripted.id, None)
