"""Admin tokens of the public API over real HTTP: kept hashed in the store, refused at once when revoked anywhere.

The host app is served on a unix socket in a thread, on every store backend. "Another process" is a second
Inbox with an engine of its own on the same store, as ``inbox token revoke`` in a shell or another host would be.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runner.client import HostClient
from agent_runner.protocol import PREFIX, PROTOCOL_VERSION, VERSION_HEADER
from inbox import Inbox
from inbox.http.auth import prepare_admin_tokens
from inbox.store.tokens import hash_token
from inbox.store.types import utcnow
from sweeper.http.app import HostState, make_app
from sweeper.http.runner_auth import RunnerIdentity
from tests.integration.helpers import stored_text
from tests.integration.unix_server import serving_on_unix_socket

CONFIGURED = "configured-secret-from-the-environment"


@dataclass
class Served:
    inbox: Inbox  # the host's own
    state: HostState
    socket_path: str
    clients: list[httpx.Client] = field(default_factory=list)

    def http(self, token: str | None, *, runner_protocol: bool = False) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        if runner_protocol:
            headers[VERSION_HEADER] = PROTOCOL_VERSION
        client = httpx.Client(
            transport=httpx.HTTPTransport(uds=self.socket_path), base_url="http://host", headers=headers, timeout=10
        )
        self.clients.append(client)
        return client

    def runner(self, session: str, owner: str) -> HostClient:
        return HostClient(self.socket_path, self.runner_token(session, owner), timeout_s=10)

    def runner_token(self, session: str, owner: str) -> str:
        return self.state.runner_tokens.issue(RunnerIdentity(session=session, owner=owner))

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.inbox.close()


def _serve(store_url: str, home: Path, admin_token: str | None) -> Iterator[Served]:
    inbox = Inbox(store_url, env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}, actor="api")
    state = HostState(inbox=inbox, admin_token=admin_token)
    with serving_on_unix_socket(make_app(state)) as path, closing(Served(inbox, state, path)) as served:
        yield served


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[Served]:
    """A host with no INBOX_API_TOKEN: only the store's tokens open /v1."""
    yield from _serve(store_url, tmp_path, None)


@pytest.fixture
def configured(store_url: str, tmp_path: Path) -> Iterator[Served]:
    """A host started with INBOX_API_TOKEN set."""
    yield from _serve(store_url, tmp_path, CONFIGURED)


@pytest.fixture
def elsewhere(store_url: str, tmp_path: Path) -> Iterator[Inbox]:
    """Another process on the same store (its own engine and connections), as a shell or a second host."""
    with Inbox(store_url, env={"INBOX_HOME": str(tmp_path / "elsewhere"), "INBOX_TZ": "UTC"}) as other:
        yield other


def status(response: httpx.Response) -> int:
    return response.status_code


def test_a_created_token_opens_v1_and_only_its_digest_is_stored(served: Served, elsewhere: Inbox) -> None:
    made = elsewhere.create_token("laptop")
    client = served.http(made.token)

    assert status(client.post("/v1/messages", json={"text": "hello"})) == 201
    [listed] = served.inbox.tokens()
    assert status(client.get("/v1/tasks")) == 200

    stored = stored_text(served.inbox.engine)
    assert made.token not in stored  # neither in the tokens table nor anywhere else
    assert hash_token(made.token) in stored
    assert (listed.name, listed.status, listed.created_by) == ("laptop", "active", "user")
    assert listed.last_used_at is not None and listed.last_used_at >= made.created_at
    assert "token" not in listed.model_dump()
    assert served.inbox.tokens() == [listed]  # a use within the minute does not write again


def test_a_token_revoked_by_another_process_is_refused_on_the_next_request(served: Served, elsewhere: Inbox) -> None:
    laptop, phone = elsewhere.create_token("laptop"), elsewhere.create_token("phone")
    client = served.http(laptop.token)  # one kept-alive connection, before and after
    assert status(client.get("/v1/tasks")) == 200

    elsewhere.revoke_token("laptop")

    refused = client.post("/v1/messages", json={"text": "after the revoke"})
    assert status(refused) == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert status(client.get("/v1/tasks")) == 401
    assert status(served.http(phone.token).get("/v1/tasks")) == 200  # the other token is untouched
    served.inbox.revoke_token(phone.id)  # by id, from the host's own side this time
    assert status(served.http(phone.token).get("/v1/outbox")) == 401
    assert [t.status for t in elsewhere.tokens()] == ["revoked", "revoked"]
    assert served.inbox.tasks(status="all") == [] and "after the revoke" not in stored_text(served.inbox.engine)


def test_inbox_api_token_is_accepted_by_digest_and_never_written(configured: Served, elsewhere: Inbox) -> None:
    assert status(configured.http(CONFIGURED).get("/v1/tasks")) == 200
    assert status(configured.http(CONFIGURED + "x").get("/v1/tasks")) == 401
    made = elsewhere.create_token("script")
    assert status(configured.http(made.token).get("/v1/tasks")) == 200  # the store's tokens work beside it

    stored = stored_text(configured.inbox.engine)
    assert CONFIGURED not in stored and hash_token(CONFIGURED) not in stored
    assert [t.name for t in elsewhere.tokens()] == ["script"]


def _runner_calls(message_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/claim", {"limit": 1, "wait_s": 0}),
        ("/heartbeat", {"leases": {message_id: 1}}),
        ("/results", {"id": message_id, "attempt": 1, "outcome": "completed", "started_at": utcnow().isoformat()}),
        ("/model", {"system": "", "turns": [{"role": "user", "text": "hi"}]}),
        ("/tools", {"name": "send_message", "arguments": {"text": "hi"}, "message_id": message_id}),
        ("/history", {"message_id": message_id}),
    ]


def test_an_admin_token_cannot_act_as_a_runner(configured: Served, elsewhere: Inbox) -> None:
    message = configured.inbox.send("for a runner", session="a")
    stored = elsewhere.create_token("admin")
    before = stored_text(configured.inbox.engine)

    for token in (stored.token, CONFIGURED):
        admin = configured.http(token, runner_protocol=True)
        answers = [admin.post(PREFIX + path, json=body) for path, body in _runner_calls(message.id)]
        assert [status(answer) for answer in answers] == [403] * 6, token
        assert all("API token cannot act as a runner" in answer.json()["error"] for answer in answers)

    assert stored_text(configured.inbox.engine) == before  # no lease, no run, no reply, no history
    runner = configured.runner("a", "r-a")  # the row was handed to nobody: a real runner still gets it
    assert [item.id for item in runner.claim(limit=1, wait_s=0).items] == [message.id]
    runner.close()


def test_a_runner_token_cannot_use_v1(served: Served) -> None:
    token = served.runner_token("main", "r-main")
    runner = served.http(token)

    assert status(runner.get("/v1/tasks")) == 403
    assert status(runner.post("/v1/messages", json={"text": "sneaked in"})) == 403
    assert status(runner.get("/v1/outbox", params={"session": "main"})) == 403
    assert "sneaked in" not in stored_text(served.inbox.engine)


def test_a_runner_reaches_no_route_for_another_sessions_row(served: Served) -> None:
    theirs = served.inbox.send("private to b", session="b")
    owner_b = served.runner("b", "r-b")
    assert [item.id for item in owner_b.claim(limit=1, wait_s=0).items] == [theirs.id]
    assert owner_b.history(theirs.id).turns == []  # the route answers the row's own runner
    before = stored_text(served.inbox.engine)
    intruder = served.http(served.runner_token("a", "r-a"), runner_protocol=True)

    answers = {path: intruder.post(PREFIX + path, json=body) for path, body in _runner_calls(theirs.id)}

    assert answers["/claim"].json()["items"] == []
    assert answers["/heartbeat"].json()["lost"] == [theirs.id]
    assert {path: status(answers[path]) for path in ("/results", "/tools", "/history")} == {
        "/results": 403,
        "/tools": 403,
        "/history": 403,
    }
    assert stored_text(served.inbox.engine) == before  # nothing was written, not even a lease renewal
    owner_b.close()


# -- the host's start -------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_start_makes_one_token_and_the_file_is_the_only_copy(served: Served, tmp_path: Path) -> None:
    home = tmp_path / "host-home"
    where = prepare_admin_tokens(served.inbox.engine, home, None)

    token_file = home / "api-token"
    token = token_file.read_text().strip()
    assert str(token_file) in where and _mode(token_file) == 0o600
    assert [(t.name, t.status, t.created_by) for t in served.inbox.tokens()] == [("default", "active", "host")]
    assert token not in stored_text(served.inbox.engine)
    assert status(served.http(token).get("/v1/tasks")) == 200

    prepare_admin_tokens(served.inbox.engine, home, None)  # the next start changes nothing
    assert token_file.read_text().strip() == token and len(served.inbox.tokens()) == 1


def test_a_token_file_from_an_older_version_keeps_working(served: Served, tmp_path: Path) -> None:
    home = tmp_path / "old-home"
    home.mkdir()
    (home / "api-token").write_text("a-token-written-by-version-0.9\n")

    assert "imported" in prepare_admin_tokens(served.inbox.engine, home, None)

    assert (home / "api-token").read_text() == "a-token-written-by-version-0.9\n"
    assert [(t.name, t.created_by) for t in served.inbox.tokens()] == [("default", "api-token file")]
    assert status(served.http("a-token-written-by-version-0.9").get("/v1/tasks")) == 200
    assert "a-token-written-by-version-0.9" not in stored_text(served.inbox.engine)
    served.inbox.revoke_token("default")
    assert status(served.http("a-token-written-by-version-0.9").get("/v1/tasks")) == 401


def test_a_revoked_file_token_is_not_brought_back_by_a_restart(
    served: Served, elsewhere: Inbox, tmp_path: Path
) -> None:
    home = tmp_path / "host-home"
    prepare_admin_tokens(served.inbox.engine, home, None)
    first = (home / "api-token").read_text().strip()
    elsewhere.revoke_token("default")
    laptop = elsewhere.create_token("laptop")

    assert "no active one" in prepare_admin_tokens(served.inbox.engine, home, None)  # another token still works
    assert status(served.http(first).get("/v1/tasks")) == 401
    assert [(t.name, t.status) for t in elsewhere.tokens()] == [("default", "revoked"), ("laptop", "active")]

    elsewhere.revoke_token(laptop.id)  # no token left at all: the next start makes a new one
    prepare_admin_tokens(served.inbox.engine, home, None)
    second = (home / "api-token").read_text().strip()
    assert second != first and _mode(home / "api-token") == 0o600
    assert status(served.http(first).get("/v1/tasks")) == 401
    assert status(served.http(second).get("/v1/tasks")) == 200


def test_with_inbox_api_token_set_the_start_makes_nothing(served: Served, tmp_path: Path) -> None:
    home = tmp_path / "host-home"
    assert prepare_admin_tokens(served.inbox.engine, home, CONFIGURED) == "INBOX_API_TOKEN"
    assert served.inbox.tokens() == [] and not (home / "api-token").exists()


@pytest.mark.parametrize("homes", ["one home", "a home each"])
def test_hosts_starting_together_on_an_empty_store_make_one_token(store_url: str, tmp_path: Path, homes: str) -> None:
    count = 4
    hosts = [Inbox(store_url, env={"INBOX_HOME": str(tmp_path)}) for _ in range(count)]
    folders = [tmp_path / ("home" if homes == "one home" else f"home-{i}") for i in range(count)]
    start = threading.Barrier(count)
    problems: list[BaseException] = []

    def start_host(inbox: Inbox, home: Path) -> None:
        start.wait()
        try:
            prepare_admin_tokens(inbox.engine, home, None)
        except BaseException as exc:  # reported below, with the others
            problems.append(exc)

    threads = [threading.Thread(target=start_host, args=pair) for pair in zip(hosts, folders, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert problems == []
    [made] = hosts[0].tokens()
    files = [home / "api-token" for home in set(folders) if (home / "api-token").exists()]
    assert made.name == "default" and len(files) == 1  # exactly one host wrote the one copy
    assert hash_token(files[0].read_text().strip()) in stored_text(hosts[0].engine)
    for inbox in hosts:
        inbox.close()
