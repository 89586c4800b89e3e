"""Every operation of the served ``/openapi.json`` refuses a caller without the right token, and writes nothing.

The calls are generated from the document itself, so a route added later is covered without touching this
file. Each generated request goes out without a token, with a wrong one, with a malformed header, (for the
``/v1`` routes) with a token whose scope is too weak for it, and (for the runner routes) with the admin token,
which is not a runner's: 401 for the strangers, 403 for a known token that may not do this. Only
``/openapi.json`` and ``/healthz`` are public. ``/v1/hooks/NAME`` takes no API token at all, only the hook's own
secret (tests/fuzz/test_hook_route.py): every caller here, tokens of every scope too, is refused 401.

``/mcp`` is left out of the document (it speaks JSON-RPC, described by MCP itself): its calls are generated
here, JSON-RPC requests (a tool call that would write, among them) and any JSON, with any method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from hypothesis import given, note
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from tests.fuzz.budget import fuzz_settings
from tests.fuzz.served_api import ApiHost, operations

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

STRANGERS: dict[str, dict[str, str]] = {
    "no token": {},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "empty bearer": {"Authorization": "Bearer "},
    "other scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
}
PUBLIC = {"/openapi.json", "/healthz"}


# What a scope may do beyond the one below it, written out here apart from the app's own rule: GET reads;
# a send token may also drop messages and emit events; everything else needs admin.
SEND_OPERATIONS = {("POST", "/v1/messages"), ("POST", "/v1/events")}


def _too_weak(method: str, path: str) -> list[str]:
    if method == "GET":
        return []
    return ["read"] if (method, path) in SEND_OPERATIONS else ["read", "send"]


def _callers(api: ApiHost, method: str, path: str, weak: dict[str, str]) -> dict[str, dict[str, str]]:
    if path.startswith("/v1/hooks/"):  # a hook's own secret lets a call in: any API token is a stranger's there
        tokens = {"admin": api.auth} | {scope: {"Authorization": f"Bearer {weak[scope]}"} for scope in weak}
        return {**STRANGERS, **{f"{ON_HOOK} ({scope})": auth for scope, auth in tokens.items()}}
    if path.startswith("/v1/"):
        scoped = {f"a {scope} token": {"Authorization": f"Bearer {weak[scope]}"} for scope in _too_weak(method, path)}
        return {**STRANGERS, **scoped}
    return {**STRANGERS, ADMIN_ON_RUNNER_ROUTE: api.auth}  # runner routes take runner tokens only


# A known token is refused for what it may not do (403), a stranger's for not being known (401).
ADMIN_ON_RUNNER_ROUTE = "the admin token"
KNOWN = ADMIN_ON_RUNNER_ROUTE, "a read token", "a send token"
ON_HOOK = "an API token, on a hook"  # 401 like any wrong secret: it does not tell which hooks exist


def _operation_test(api: ApiHost, operation: Any, examples: int, weak: dict[str, str]) -> Callable[[], None]:
    modes = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    callers = _callers(api, operation.method.upper(), operation.path, weak)

    @fuzz_settings(default_examples=examples)
    @given(case=st.one_of(modes), who=st.sampled_from(sorted(callers)))
    def each_case(case: Case[Any], who: str) -> None:
        note(f"{case.method} {case.formatted_path} as {who}")
        before = api.state()
        response = case.call(base_url=api.base_url, headers=callers[who], timeout=60)
        note(f"{response.status_code} {response.text[:300]}")
        expected = 403 if who in KNOWN else 401
        assert response.status_code == expected, f"{who}: {response.status_code} {response.text[:300]}"
        assert api.state() == before, f"{who}: a refused request wrote to the store"

    return each_case


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
_RPC = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0"),
        "id": st.integers(),
        "method": st.sampled_from(["initialize", "tools/list", "tools/call", "server/discover"]),
        "params": st.one_of(
            st.dictionaries(st.text(max_size=10), _JSON, max_size=3),
            st.just({"name": "schedule_task", "arguments": {"prompt": "let me in", "every": "1h"}}),
        ),
    }
)


def _mcp_test(api: ApiHost, examples: int, weak: dict[str, str]) -> Callable[[], None]:
    # /mcp's tools write (schedule, change, cancel): a read or send token is known but refused (403).
    callers = {**STRANGERS, **{f"a {scope} token": {"Authorization": f"Bearer {weak[scope]}"} for scope in weak}}

    @fuzz_settings(default_examples=examples)
    @given(
        method=st.sampled_from(["POST", "GET", "DELETE", "PUT"]),
        body=st.one_of(_RPC, _JSON),
        who=st.sampled_from(sorted(callers)),
    )
    def each_case(method: str, body: Any, who: str) -> None:
        note(f"{method} /mcp {body!r} as {who}")
        before = api.state()
        accepts = {"Accept": "application/json, text/event-stream", **callers[who]}
        response = requests.request(method, f"{api.base_url}/mcp", json=body, headers=accepts, timeout=60)
        expected = 403 if who in KNOWN else 401
        assert response.status_code == expected, f"{who}: {response.status_code} {response.text[:300]}"
        assert api.state() == before, f"{who}: a refused request wrote to the store"

    return each_case


def test_every_operation_refuses_callers_without_the_right_token(api_host: ApiHost, backend: str) -> None:
    found = operations(api_host)
    assert {op.path for op in found} & PUBLIC == set(), "the docs pages are not API operations"
    assert len(found) >= 11
    for path in ("/openapi.json", "/healthz"):
        assert httpx.get(f"{api_host.base_url}{path}", timeout=30).status_code == 200, f"{path} is public"
    weak = {scope: api_host.served.inbox.create_token(f"fuzz-{scope}", scope=scope).token for scope in ("read", "send")}
    api_host.settle()
    examples = 12 if backend == "sqlite" else 6
    failures = []
    for operation in found:
        try:
            _operation_test(api_host, operation, examples, weak)()
        except (Exception, BaseExceptionGroup) as exc:  # report every route that lets a stranger in
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    try:
        _mcp_test(api_host, examples * 2, weak)()
    except (Exception, BaseExceptionGroup) as exc:
        failures.append(f"/mcp: {exc}")
    assert not failures, "\n\n".join(failures)
