"""``POST /v1/hooks/NAME`` over a real socket, on every store backend: a hook's own secret (bearer or HMAC of the
body) lets a call in, nothing else does, and a refused call writes nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import select

from inbox.enums import Kind
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event
from tests.integration.helpers import stored_text
from tests.integration.test_public_api import JSON, TOKEN, Served, api, ok, refused

__all__ = ["api"]  # the fixture, shared with the other HTTP tests

LIMIT = 1 << 20


def _events(api: Served) -> list[Event]:
    with read_transaction(api.inbox.engine) as db:
        return list(db.exec(select(Event).order_by(Event.id)).all())


def _messages(api: Served, created_by: str) -> list[MessageIn]:
    with read_transaction(api.inbox.engine) as db:
        return list(db.exec(select(MessageIn).where(MessageIn.created_by == created_by)).all())


def _call(api: Served, name: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
    # a client without the admin token: a hook is called by strangers holding only its secret
    with httpx.Client(base_url=api.url, timeout=30) as stranger:
        return stranger.post(f"/v1/hooks/{name}", content=content, headers=headers)


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_bearer_call_emits_hook_name_with_the_json_body_and_starts_listening_tasks(api: Served) -> None:
    task = ok(api.http.post("/v1/tasks", json={"prompt": "look at the push", "on": ["hook.*"]}), 201)
    hook = api.inbox.create_hook("github")
    body = json.dumps({"ref": "main", "commits": 3}).encode()
    answer = ok(_call(api, "github", body, {**JSON, "Authorization": f"Bearer {hook.secret}"}), 202)
    assert (answer["name"], answer["matched"], answer["duplicate"]) == ("hook.github", [task["series_id"]], False)
    assert answer["message_id"] is None
    [event] = _events(api)
    assert (event.id, event.name, event.data, event.created_by) == (
        answer["id"],
        "hook.github",
        {"ref": "main", "commits": 3},
        "hook:github",
    )
    assert _messages(api, "hook:github") == []  # without --message, no chat message


def test_a_signed_text_body_is_accepted_and_its_data_is_the_text(api: Served) -> None:
    hook = api.inbox.create_hook("mailfilter", session="work")
    body = b"From: ann\nInvoice attached"
    answer = ok(_call(api, "mailfilter", body, {"X-Inbox-Signature": _signed(hook.secret, body)}), 202)
    [event] = _events(api)
    assert (event.id, event.data, event.session) == (answer["id"], "From: ann\nInvoice attached", "work")


def test_a_message_hook_drops_the_body_into_its_session_once_per_idempotency_key(api: Served) -> None:
    hook = api.inbox.create_hook("shortcut", session="phone", message=True)
    headers = {"Authorization": f"Bearer {hook.secret}", "Idempotency-Key": "tap-1"}
    first = ok(_call(api, "shortcut", b"buy milk", headers), 202)
    again = ok(_call(api, "shortcut", b"buy milk", headers), 202)
    assert (again["id"], again["duplicate"], again["message_id"]) == (first["id"], True, None)
    [message] = _messages(api, "hook:shortcut")
    assert (message.id, message.session, message.kind, message.content["text"]) == (
        first["message_id"],
        "phone",
        Kind.WEBHOOK,
        "buy milk",
    )
    assert len(_events(api)) == 1
    other = ok(_call(api, "shortcut", b"buy milk", {**headers, "Idempotency-Key": "tap-2"}), 202)
    assert other["id"] != first["id"] and len(_messages(api, "hook:shortcut")) == 2


@pytest.fixture
def hooked(api: Served) -> Iterator[tuple[Served, str]]:
    ok(api.http.post("/v1/tasks", json={"prompt": "anything", "on": ["**"]}), 201)
    yield api, api.inbox.create_hook("known", message=True).secret


def _wrong_callers(secret: str, body: bytes) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "no secret": ("known", {}),
        "wrong bearer": ("known", {"Authorization": "Bearer not-the-secret"}),
        "the admin token": ("known", {"Authorization": f"Bearer {TOKEN}"}),
        "another scheme": ("known", {"Authorization": f"Basic {secret}"}),
        "bad signature": ("known", {"X-Inbox-Signature": _signed("not-the-secret", body)}),
        "signature of another body": ("known", {"X-Inbox-Signature": _signed(secret, body + b" ")}),
        "unknown hook": ("unknown", {"Authorization": f"Bearer {secret}"}),
        "unknown hook, signed": ("unknown", {"X-Inbox-Signature": _signed(secret, body)}),
        "a name no hook can have": ("..", {"Authorization": f"Bearer {secret}"}),
    }


def test_every_wrong_caller_gets_the_same_401_and_nothing_is_written(hooked: tuple[Served, str]) -> None:
    api, secret = hooked
    body = b'{"x": 1}'
    before = stored_text(api.inbox.engine)
    answers = set()
    for who, (name, headers) in _wrong_callers(secret, body).items():
        response = _call(api, name, body, {**JSON, **headers})
        assert response.status_code in (401, 404 if name == ".." else 401), f"{who}: {response.text}"
        if name != "..":
            answers.add(response.text)
    assert len(answers) == 1, answers  # an unknown hook is refused exactly like a wrong secret
    assert stored_text(api.inbox.engine) == before


def test_a_deleted_hook_refuses_its_old_secret(hooked: tuple[Served, str]) -> None:
    api, secret = hooked
    api.inbox.delete_hook("known")
    before = stored_text(api.inbox.engine)
    refused(_call(api, "known", b"x", {"Authorization": f"Bearer {secret}"}), 401)
    assert stored_text(api.inbox.engine) == before


def test_a_body_over_1_mib_is_413_whether_declared_or_streamed_and_nothing_is_written(
    hooked: tuple[Served, str],
) -> None:
    api, secret = hooked
    auth = {"Authorization": f"Bearer {secret}"}
    before = stored_text(api.inbox.engine)
    refused(_call(api, "known", b"x" * (LIMIT + 1), auth), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the read stops once past the limit
        for _ in range(LIMIT // 65536 + 2):
            yield b"y" * 65536

    with httpx.Client(base_url=api.url, timeout=30) as stranger:
        refused(stranger.post("/v1/hooks/known", content=chunks(), headers=auth), 413)
    assert stored_text(api.inbox.engine) == before
    big = api.inbox.create_hook("big")  # a message is at most 100,000 characters; an event's data 1 MiB
    ok(_call(api, "big", b"x" * LIMIT, {"Authorization": f"Bearer {big.secret}"}), 202)  # exactly the limit
    refused(_call(api, "known", b"x" * 100_001, auth), 422, "body")


@pytest.mark.parametrize(
    ("content", "headers", "field"),
    [
        (b'{"a": ', JSON, "body"),
        (b'{"a": NaN}', JSON, "body"),
        (b"\xff\xfe", {}, "body"),
        (b'"\\u0000"', JSON, "body"),
        (b"x", {"Idempotency-Key": "k" * 201}, "Idempotency-Key"),
    ],
)
def test_bad_bodies_and_keys_are_422_naming_them_and_write_nothing(
    hooked: tuple[Served, str], content: bytes, headers: dict[str, str], field: str
) -> None:
    api, secret = hooked
    before = stored_text(api.inbox.engine)
    refused(_call(api, "known", content, {**headers, "Authorization": f"Bearer {secret}"}), 422, field)
    assert stored_text(api.inbox.engine) == before
