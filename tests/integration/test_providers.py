"""Provider clients over real HTTP against the scripted fake server (no HTTP mocking)."""

from __future__ import annotations

import email.utils
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.fake_provider.server import FakeProvider, RecordedRequest, ScriptedReply
from sweeper.providers import (
    AnthropicProvider,
    ChatTurn,
    OpenAIProvider,
    Provider,
    ProviderError,
    ToolSpec,
    make_provider,
)

KEY = "sk-test-123"
APIS = ["openai", "anthropic"]
REPO_ROOT = Path(__file__).resolve().parents[2]
HI = [ChatTurn(role="user", text="hi")]
TOOLS = [
    ToolSpec(
        name="list_tasks",
        description="List the session's tasks.",
        parameters={"type": "object", "properties": {"status": {"type": "string"}}},
    ),
    ToolSpec(
        name="get_task",
        description="One task by id.",
        parameters={"type": "object", "properties": {"task_id": {"type": "string"}}, "required": ["task_id"]},
    ),
]

MakeProvider = Callable[..., Provider]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(api_key=KEY) as server:
        yield server


@pytest.fixture
def make() -> Iterator[MakeProvider]:
    """``make(api, base, api_key=KEY, timeout_s=5)``; ``base`` is a FakeProvider or a root URL."""
    made: list[OpenAIProvider | AnthropicProvider] = []

    def build(api: str, base: FakeProvider | str, *, api_key: str | None = KEY, timeout_s: float = 5) -> Provider:
        root = base.url if isinstance(base, FakeProvider) else base
        provider: OpenAIProvider | AnthropicProvider
        if api == "openai":
            provider = OpenAIProvider(root + "/v1", api_key, timeout_s=timeout_s)
        else:
            provider = AnthropicProvider(root, api_key, timeout_s=timeout_s)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()


def call_error(provider: Provider, *, model: str = "fake-model") -> ProviderError:
    with pytest.raises(ProviderError) as info:
        provider.complete(model=model, system="", turns=HI)
    return info.value


@pytest.mark.parametrize("api", APIS)
def test_plain_reply_usage_and_request_shape(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    fake.reply("hello there", input_tokens=12, output_tokens=3)
    reply = make(api, fake).complete(model="fake-model", system="Be brief.", turns=HI, max_tokens=99)

    assert reply.text == "hello there"
    assert reply.tool_calls == ()
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (12, 3)
    assert reply.stop_reason == ("stop" if api == "openai" else "end_turn")
    assert reply.model == "fake-model"
    [req] = fake.requests
    assert req.api == api
    if api == "openai":
        assert req.path == "/v1/chat/completions"
        assert req.headers["authorization"] == f"Bearer {KEY}"
        assert req.json["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ]
        assert req.json["max_tokens"] == 99
    else:
        assert req.path == "/v1/messages"
        assert req.headers["x-api-key"] == KEY
        assert req.headers["anthropic-version"] == "2023-06-01"
        assert req.json["system"] == "Be brief."
        assert req.json["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        assert req.json["max_tokens"] == 99
    assert "tools" not in req.json


@pytest.mark.parametrize("api", APIS)
def test_tool_call_round_trip(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    fake.reply(tool_calls=[("list_tasks", {"status": "active"}), ("get_task", {"task_id": "t-1"})])
    fake.reply("You have one task.")
    provider = make(api, fake)
    turns = [ChatTurn(role="user", text="what is scheduled?")]

    first = provider.complete(model="fake-model", system="sys", turns=turns, tools=TOOLS)
    assert first.stop_reason == ("tool_calls" if api == "openai" else "tool_use")
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("list_tasks", {"status": "active"}),
        ("get_task", {"task_id": "t-1"}),
    ]
    a, b = first.tool_calls
    turns += [
        ChatTurn(role="assistant", tool_calls=first.tool_calls),
        ChatTurn(role="tool", tool_call_id=a.id, text='[{"id": "t-1"}]'),
        ChatTurn(role="tool", tool_call_id=b.id, text="no such task", is_error=True),
    ]
    second = provider.complete(model="fake-model", system="sys", turns=turns, tools=TOOLS)
    assert second.text == "You have one task."

    sent_tools, history = fake.requests[0].json["tools"], fake.requests[1].json["messages"]
    if api == "openai":
        assert sent_tools[1] == {
            "type": "function",
            "function": {"name": "get_task", "description": "One task by id.", "parameters": TOOLS[1].parameters},
        }
        assistant, result_a, result_b = history[-3:]
        assert assistant["role"] == "assistant" and assistant["content"] is None
        assert [(c["id"], c["type"], c["function"]["name"]) for c in assistant["tool_calls"]] == [
            (a.id, "function", "list_tasks"),
            (b.id, "function", "get_task"),
        ]
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"status": "active"}
        assert result_a == {"role": "tool", "tool_call_id": a.id, "content": '[{"id": "t-1"}]'}
        assert result_b == {"role": "tool", "tool_call_id": b.id, "content": "no such task"}
    else:
        assert sent_tools[1] == {
            "name": "get_task",
            "description": "One task by id.",
            "input_schema": TOOLS[1].parameters,
        }
        assistant, results = history[-2:]
        assert assistant == {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": a.id, "name": "list_tasks", "input": {"status": "active"}},
                {"type": "tool_use", "id": b.id, "name": "get_task", "input": {"task_id": "t-1"}},
            ],
        }
        assert results == {  # consecutive tool results merged into one user message
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": a.id, "content": '[{"id": "t-1"}]'},
                {"type": "tool_result", "tool_use_id": b.id, "content": "no such task", "is_error": True},
            ],
        }


def test_malformed_tool_arguments_are_kept_raw(fake: FakeProvider, make: MakeProvider) -> None:
    fake.reply(tool_calls=[("schedule_task", '{"prompt": "water the pl')])
    fake.reply("Sorry, retrying.")
    provider = make("openai", fake)
    first = provider.complete(model="fake-model", system="", turns=HI, tools=TOOLS)
    [call] = first.tool_calls
    assert call.name == "schedule_task"
    assert call.arguments == {"_raw": '{"prompt": "water the pl'}

    turns = [
        *HI,
        ChatTurn(role="assistant", tool_calls=first.tool_calls),
        ChatTurn(role="tool", tool_call_id=call.id, text="error: arguments are not valid JSON", is_error=True),
    ]
    assert provider.complete(model="fake-model", system="", turns=turns).text == "Sorry, retrying."
    replayed = fake.requests[1].json["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert replayed == '{"prompt": "water the pl'  # the model sees what it produced


@pytest.mark.parametrize("api", APIS)
def test_fake_rejects_tool_result_without_call(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    turns = [*HI, ChatTurn(role="tool", tool_call_id="call_nope", text="{}")]
    with pytest.raises(ProviderError) as info:
        make(api, fake).complete(model="fake-model", system="", turns=turns)
    assert (info.value.kind, info.value.transient, info.value.status) == ("bad_request", False, 400)


@pytest.mark.parametrize("api", APIS)
def test_rate_limit_with_retry_after(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    fake.error(429, message="slow down", retry_after=7)
    err = call_error(make(api, fake))
    assert (err.kind, err.transient, err.status, err.retry_after_s) == ("rate_limited", True, 429, 7.0)
    assert "slow down" in str(err)


def test_retry_after_ms_and_http_date(fake: FakeProvider, make: MakeProvider) -> None:
    fake.error(429, headers={"retry-after-ms": "1500", "retry-after": "2"})
    fake.error(503, headers={"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)})
    provider = make("openai", fake)
    assert call_error(provider).retry_after_s == 1.5
    by_date = call_error(provider).retry_after_s
    assert by_date is not None and 25 <= by_date <= 31


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_are_transient(api: str, status: int, fake: FakeProvider, make: MakeProvider) -> None:
    fake.error(status, message="Overloaded" if status == 529 else "upstream broke")
    err = call_error(make(api, fake))
    assert (err.kind, err.transient, err.status, err.retry_after_s) == ("server_error", True, status, None)


@pytest.mark.parametrize("api", APIS)
def test_wrong_key_is_permanent_auth(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    err = call_error(make(api, fake, api_key="sk-wrong"))
    assert (err.kind, err.transient, err.status) == ("auth", False, 401)
    assert fake.requests  # the request did reach the server


@pytest.mark.parametrize("api", APIS)
def test_unknown_model_is_permanent(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    err = call_error(make(api, fake), model="no-such-model")
    assert (err.kind, err.transient, err.status) == ("unknown_model", False, 404)
    assert "no-such-model" in str(err)


@pytest.mark.parametrize(
    ("status", "message", "error_type", "kind", "transient"),
    [
        (400, 'model "llama9" not found, try pulling it first', None, "unknown_model", False),
        (400, "max_tokens: 99999 > 8192", None, "bad_request", False),
        (403, "not allowed", None, "auth", False),
        (429, "You exceeded your current quota", "insufficient_quota", "quota", False),
        (408, "request timed out", None, "timeout", True),
        (409, "lock timeout", None, "server_error", True),
    ],
)
def test_classification_of_other_statuses(
    status: int,
    message: str,
    error_type: str | None,
    kind: str,
    transient: bool,
    fake: FakeProvider,
    make: MakeProvider,
) -> None:
    fake.error(status, message=message, error_type=error_type)
    err = call_error(make("openai", fake))
    assert (err.kind, err.transient, err.status) == (kind, transient, status)


@pytest.mark.parametrize("api", APIS)
def test_slow_reply_beyond_timeout_is_transient_timeout(api: str, fake: FakeProvider, make: MakeProvider) -> None:
    fake.slow(3.0, "too late")
    started = time.monotonic()
    err = call_error(make(api, fake, timeout_s=0.3))
    assert (err.kind, err.transient, err.status) == ("timeout", True, None)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("api", APIS)
def test_connection_refused_is_transient_network(api: str, make: MakeProvider) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = call_error(make(api, f"http://127.0.0.1:{port}"))
    assert (err.kind, err.transient, err.status) == ("network", True, None)


@pytest.mark.parametrize(("api", "header"), [("openai", "authorization"), ("anthropic", "x-api-key")])
def test_no_credentials_header_without_api_key(api: str, header: str, make: MakeProvider) -> None:
    with FakeProvider() as open_server:  # like a local Ollama: no key needed
        assert make(api, open_server, api_key=None).complete(model="fake-model", system="", turns=HI).text == "ok"
        [req] = open_server.requests
    assert header not in req.headers


@pytest.mark.parametrize("api", APIS)
def test_models_listing_and_dynamic_replies(api: str, make: MakeProvider) -> None:
    with FakeProvider(models=["m-small", "m-large"], default_text="fallback") as server:
        auth = {"anthropic-version": "2023-06-01"} if api == "anthropic" else {}
        listing = httpx.get(server.openai_base_url + "/models", headers=auth).json()
        assert [m["id"] for m in listing["data"]] == ["m-small", "m-large"]
        assert ("object" in listing) == (api == "openai")

        def echo(req: RecordedRequest) -> ScriptedReply:
            return ScriptedReply(text=f"{req.api} via {req.json['model']}")

        provider = make(api, server)
        assert provider.complete(model="m-large", system="", turns=HI).text == "fallback"
        server.respond_with(echo)
        assert provider.complete(model="m-small", system="", turns=HI).text == f"{api} via m-small"


def test_make_provider() -> None:
    assert isinstance(make_provider("openai", "http://127.0.0.1:1/v1", None), OpenAIProvider)
    assert isinstance(make_provider(" Anthropic ", "", "k"), AnthropicProvider)
    with pytest.raises(ValueError, match="'gemini'"):
        make_provider("gemini", "http://127.0.0.1:1", None)
    with pytest.raises(ValueError, match="base_url"):
        make_provider("openai", "127.0.0.1:11434/v1", None)  # scheme missing


def test_out_of_process_server_is_scriptable(make: MakeProvider) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.fake_provider", "--port", "0", "--api-key", KEY],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(10, proc.kill)  # never hang the suite on a server that does not start
    watchdog.start()
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline().strip()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))", first_line)
        assert match, f"unexpected first line {first_line!r}"
        url = match.group(1)

        script: list[dict[str, Any]] = [
            {"type": "reply", "text": "from a script", "tool_calls": [["list_tasks", {}]], "input_tokens": 4},
            {"type": "error", "status": 429, "retry_after": 1},
        ]
        assert httpx.post(url + "/_fake/script", json=script).json() == {"queued": 2}
        provider = make("anthropic", url)
        reply = provider.complete(model="fake-model", system="", turns=HI, tools=TOOLS)
        assert (reply.text, reply.tool_calls[0].name, reply.usage.input_tokens) == ("from a script", "list_tasks", 4)
        err = call_error(provider)
        assert (err.kind, err.retry_after_s) == ("rate_limited", 1.0)

        recorded = httpx.get(url + "/_fake/requests").json()
        assert [(r["method"], r["path"], r["api"]) for r in recorded] == [("POST", "/v1/messages", "anthropic")] * 2
        assert recorded[0]["json"]["tools"][0]["name"] == "list_tasks"
        assert httpx.post(url + "/_fake/script", json=[{"type": "nope"}]).status_code == 400
        assert httpx.post(url + "/_fake/reset").json() == {"ok": True}
        assert httpx.get(url + "/_fake/requests").json() == []
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode == 0
