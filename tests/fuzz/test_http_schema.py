"""Schemathesis against the ``/openapi.json`` of a running ``inbox serve``, on every backend.

For every operation in the document, with generated valid and invalid input: no 5xx; status code, content
type, headers and body as documented; and a 4xx to a write wrote nothing (messages_in, messages_out and runs
have the same rows, digested, before and after). Path ids are sometimes those of real tasks, so the success
paths of pause, resume, run, update and cancel are reached too, not only their 404s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inbox.views import Scheduled
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.http_inputs import BODIES, ODD_IDS, QUERIES
from tests.fuzz.served_api import ApiHost, operations

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HARMLESS = "exit 0\n"  # put before a generated pre-script: it may run on this machine when its task comes due


def _seed(api: ApiHost) -> list[str]:
    """Tasks in every state, none due soon; the ids, a prefix and a name the fuzzer may aim at."""
    inbox = api.served.inbox
    made: list[Scheduled] = [
        inbox.schedule("yearly report", cron="0 9 1 1 *", name="yearly"),
        inbox.schedule("weekly", every="1w", tz="Europe/Paris"),
        inbox.schedule("later", at="2099-01-01T09:00", remind=True),
        inbox.schedule("paused one", cron="0 0 1 * *"),
        inbox.schedule("cancelled one", every="2d"),
        inbox.schedule("on events", on=["fuzz.*"]),
        inbox.schedule("after the report", after=["yearly"], when="all_done", name="downstream"),
    ]
    inbox.pause(made[3].series_id)
    inbox.cancel(made[4].series_id)
    chat = inbox.send("a chat message, not a task", at="2099-01-01T00:00")
    ids = [m.series_id for m in made] + [made[0].id[:8].lower(), "yearly", chat.id]
    return ids


def _cases(operation: Any, ids: list[str]) -> st.SearchStrategy[Case[Any]]:
    """From the schema (valid and invalid), aimed at real tasks, and with bodies and queries from the input
    grammars, which reach the checks behind the schema (a cron expression, a NUL in a filter) far more often."""
    key = (operation.method.upper(), operation.path)
    generated = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    path: st.SearchStrategy[dict[str, str] | None] = st.none()
    if "{task_id}" in operation.path:
        path = st.one_of(st.sampled_from(ids), ODD_IDS).map(lambda i: {"task_id": i})
        generated.append(path.flatmap(lambda p: operation.as_strategy(path_parameters=p)))
    aimed: list[st.SearchStrategy[Case[Any]]] = []
    if key in BODIES:
        made = st.tuples(path, BODIES[key])
        aimed.append(made.flatmap(lambda pb: operation.as_strategy(path_parameters=pb[0], body=pb[1])))
    if key in QUERIES:
        made = st.tuples(path, QUERIES[key])
        aimed.append(made.flatmap(lambda pq: operation.as_strategy(path_parameters=pq[0], query=pq[1])))
    return st.one_of(*aimed, *aimed, *generated)  # most examples from the grammars: the schema rarely goes deep


def _examples(operation: Any, backend: str) -> int:
    """Where the input grammars reach deep, more; the runner routes answer the admin token 401, fewer."""
    if (operation.method.upper(), operation.path) in BODIES | QUERIES:
        count = 80
    elif operation.path.startswith("/v1/"):
        count = 30
    else:
        count = 8
    return count if backend == "sqlite" else max(4, count // 4)


def _defuse(case: Case[Any]) -> None:
    body = case.body
    script = body.get("script") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(script, str) and script:
        body["script"] = HARMLESS + script


def _one_case(api: ApiHost, case: Case[Any]) -> None:
    _defuse(case)
    writes = case.method.upper() in WRITES
    if writes:
        api.settle()
    before = api.state() if writes else None
    response = case.call(base_url=api.base_url, headers=api.auth, timeout=60)
    note(f"{response.status_code} {response.text[:500]}\n{case.as_curl_command(headers=api.auth)}")
    checks = [*CHECKS, negative_data_rejection] if case.meta and not case.meta.generation.mode.is_positive else CHECKS
    case.validate_response(response, checks=checks, headers=api.auth)
    if before is not None and 400 <= response.status_code < 500:
        after = api.state()
        assert after == before, (
            f"{case.method} {case.path} answered {response.status_code} but wrote: {before} -> {after}"
        )


def _operation_test(api: ApiHost, operation: Any, ids: list[str], examples: int) -> Callable[[], None]:
    @fuzz_settings(default_examples=examples)
    @given(case=_cases(operation, ids))
    def each_case(case: Case[Any]) -> None:
        note(f"operation: {operation.method.upper()} {operation.path}")
        _one_case(api, case)

    return each_case


def test_every_operation_answers_as_documented_and_rejections_write_nothing(api_host: ApiHost, backend: str) -> None:
    ids = _seed(api_host)
    failures = []
    for operation in operations(api_host):
        try:
            _operation_test(api_host, operation, ids, _examples(operation, backend))()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's finding, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
