"""Schemathesis against the runners' routes, with a real runner token: one session's token reaches only it.

The host app is served over loopback TCP by uvicorn in a thread, on the backend under test, with the scripted
fake model provider behind ``/runner/v1/model``. The fuzzer holds the token the host would give a runner of
session ``mine``; session ``theirs`` has due messages, a task, a running row under another runner's lease and
outbox replies. Request bodies are generated from the document, valid and invalid, and their id fields are
often aimed at real rows of both sessions (and tool arguments at the other session's task). For every request:

- no 5xx, except the 502 ``/runner/v1/model`` documents for a provider's refusal, and answers as documented;
- a 4xx wrote nothing;
- the other session's rows (messages, runs, outbox) are exactly as before, and nothing of them (an id, a text)
  appears in any answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given, note
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text

from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER
from inbox import Inbox
from inbox.config import load_settings
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from inbox.store.types import utcnow
from scripts.fake_provider.server import FakeProvider
from sweeper.http.app import HostState, make_app
from sweeper.http.model_proxy import ModelProxy
from sweeper.http.runner_auth import RunnerIdentity
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.store_state import StoreState, store_state
from tests.integration.unix_server import serving_on_loopback

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

KEY = "fuzz-provider-key"
SECRET = "theirs-secret-text-7d2f"  # in every row of the other session: must never be answered to this runner
CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]
ID_FIELDS = {"id", "message_id", "task_id"}
PUBLIC = {"/openapi.json", "/healthz"}


@dataclass
class RunnerHost:
    inbox: Inbox
    base_url: str
    headers: dict[str, str]
    mine: list[str]  # ids of this runner's session's rows, some claimed by it
    theirs: list[str]  # ids of the other session's rows
    held: list[str] = field(default_factory=list)  # chats of mine it holds at attempt 1 (see _held_now)

    def state(self) -> StoreState:
        return store_state(self.inbox.engine)

    def theirs_state(self) -> str:
        return _session_digest(self.inbox.engine, "theirs")


def _session_digest(engine: Engine, session: str) -> str:
    """Every column of a session's messages, their runs and its outbox, digested."""
    queries = (
        "SELECT * FROM messages_in WHERE session = :s ORDER BY id",
        "SELECT r.* FROM runs r JOIN messages_in m ON m.id = r.message_id WHERE m.session = :s ORDER BY r.id",
        "SELECT * FROM messages_out WHERE session = :s ORDER BY id",
    )
    hasher = hashlib.sha256()
    with engine.connect() as conn:
        for query in queries:
            rows = conn.execute(text(query), {"s": session}).all()
            hasher.update(repr([tuple(row) for row in rows]).encode("utf-8", "backslashreplace"))
        conn.rollback()
    return hasher.hexdigest()


def _seed(inbox: Inbox) -> tuple[list[str], list[str]]:
    theirs = [
        inbox.send(f"{SECRET} chat", session="theirs").id,
        inbox.schedule(f"{SECRET} task", every="1h", session="theirs").series_id,
        inbox.send(f"{SECRET} being worked on", session="theirs").id,
    ]
    with transaction(inbox.engine) as db:  # another runner of theirs holds the due rows
        claim_due(db, owner="their-runner", session="theirs", limit=10, now=utcnow(), lease=timedelta(minutes=30))
    mine = [inbox.send(f"my chat {n}", session="mine").id for n in range(12)]  # claimed and ended as it goes
    mine += [inbox.schedule("my task", every="1h", session="mine").series_id]
    mine.append(inbox.send("my later chat", session="mine", in_="1h").id)
    return mine, theirs


@pytest.fixture
def runner_host(store_url: str, tmp_path: Path) -> Iterator[RunnerHost]:
    fake = FakeProvider(api_key=KEY, models=["fake-model"]).start()
    env = {"INBOX_HOME": str(tmp_path), "INBOX_TZ": "UTC"}
    provider = {"INBOX_PROVIDER": "openai", "INBOX_MODEL": "fake-model", "OPENAI_API_KEY": KEY}
    model = ModelProxy(load_settings({**env, **provider, "OPENAI_BASE_URL": fake.openai_base_url}))
    inbox = Inbox(store_url, env=env)
    state = HostState(inbox=inbox, admin_token="fuzz-admin", model=model)
    mine, theirs = _seed(inbox)
    token = state.runner_tokens.issue(RunnerIdentity(session="mine", owner="fuzz-runner"))
    headers = {"Authorization": f"Bearer {token}", VERSION_HEADER: PROTOCOL_VERSION}
    try:
        with serving_on_loopback(make_app(state)) as url:
            yield RunnerHost(inbox, url, headers, mine, theirs)
    finally:
        model.close()
        fake.stop()
        inbox.close()


def _runner_operations(host: RunnerHost) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{host.base_url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    runner = [op for op in found if not op.path.startswith("/v1/") and op.path not in PUBLIC]
    assert {op.path for op in runner} >= {"/runner/v1/claim", "/runner/v1/results", "/runner/v1/tools"}
    return runner


def _held_now(host: RunnerHost) -> list[str]:
    """Chats of mine that this runner holds at attempt 1 right now: the routes fuzzed before ``/model`` may have
    ended every row it claimed, and a model call is only served for a held attempt."""
    sent = [host.inbox.send(f"my chat for the model {n}", session="mine").id for n in range(4)]
    claimed = httpx.post(f"{host.base_url}/runner/v1/claim", json={"limit": 10}, headers=host.headers, timeout=30)
    claimed.raise_for_status()
    return [item["id"] for item in claimed.json()["items"] if item["id"] in sent]


def _aim(body: Any, ids: list[str], held: list[str], draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """Point the body's id fields (and heartbeat leases, tool arguments) at real rows, often the other's; a model
    turn's id often at a row held right now, and its turns often at a plain user line: without that, a generated
    conversation (a tool turn answering no call, an unknown model) is refused 422 before the lease is looked at,
    and the route's own work would go unfuzzed."""
    if not isinstance(body, dict):
        return body
    often = st.integers(0, 3).map(bool)
    if "turns" in body and draw(often):
        body.update(turns=[{"role": "user", "text": "hello"}], tools=[], model=None, provider=None, max_tokens=64)
    for key in ID_FIELDS & set(body):
        if key == "message_id" and held and draw(often):
            body[key] = draw(st.sampled_from(held))
        elif draw(often):
            body[key] = draw(st.sampled_from(ids))
    if isinstance(body.get("leases"), dict) and draw(often):
        body["leases"] = {draw(st.sampled_from(ids)): draw(st.integers(0, 3))}
    if isinstance(body.get("arguments"), dict) and draw(often):
        body["arguments"]["task_id"] = draw(st.sampled_from(ids))
    if "attempt" in body and draw(often):
        body["attempt"] = 1  # the attempt a first claim leases
    if isinstance(body.get("wait_s"), int | float):
        body["wait_s"] = min(body["wait_s"], 0.2)  # a long poll would only spend the budget waiting
    return body


def _answered_nothing_of_theirs(host: RunnerHost, asked: str, answer: str) -> None:
    """Naming back an id the request held is no leak; any other of theirs, or their text, is."""
    leaked = [item for item in [SECRET, *host.theirs] if item in answer and item not in asked]
    assert not leaked, f"the answer to session mine's runner holds the other session's {leaked}: {answer[:500]}"


def _operation_test(host: RunnerHost, operation: Any, examples: int, answered: set[int]) -> Callable[[], None]:
    ids = host.mine + host.theirs
    modes = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @fuzz_settings(default_examples=examples)
    @given(case=modes, data=st.data())
    def each_case(case: Case[Any], data: st.DataObject) -> None:
        case.body = _aim(case.body, ids, host.held, data.draw)
        before, theirs_before = host.state(), host.theirs_state()
        response = case.call(base_url=host.base_url, headers=host.headers, timeout=60)
        answered.add(response.status_code)
        note(f"{response.status_code} {response.text[:500]}\n{case.as_curl_command(headers=host.headers)}")
        documented_502 = operation.path == "/runner/v1/model" and response.status_code == 502
        assert response.status_code < 500 or documented_502, f"{case.method} {case.path}: {response.status_code}"
        case.validate_response(response, checks=CHECKS, headers=host.headers)
        if 400 <= response.status_code < 500:
            assert host.state() == before, f"{case.path} answered {response.status_code} but wrote to the store"
        assert host.theirs_state() == theirs_before, f"{case.path} ({response.status_code}) changed session theirs"
        _answered_nothing_of_theirs(host, repr(case.body), response.text)

    return each_case


def test_a_runner_token_fuzzed_on_every_runner_route_reaches_only_its_session(
    runner_host: RunnerHost, backend: str
) -> None:
    examples = 60 if backend == "sqlite" else 20
    failures = []
    answered: dict[str, set[int]] = {}
    for operation in _runner_operations(runner_host):
        answered[operation.path] = set()
        if operation.path == "/runner/v1/model":
            runner_host.held = _held_now(runner_host)
            runner_host.mine.extend(runner_host.held)
        try:
            _operation_test(runner_host, operation, examples, answered[operation.path])()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's finding, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    if backend == "sqlite":  # the bigger budget: the fuzzer got past the checks on every route, not only refused
        accepted = {path for path, codes in answered.items() if any(200 <= code < 300 for code in codes)}
        assert sorted(set(answered) - accepted) == [], answered  # a 2xx: 200, or 204 for what answers nothing
