"""Request bodies and query strings built from the CLI's input grammars (tests/fuzz/cli_inputs.py).

Bodies generated from the JSON schema alone almost never hold a valid cron expression or duration, so the
create and update paths would only ever be refused. These are mostly valid, so tasks really get created and
changed (and their answers checked against the schema), with one field at a time taken from the grammar's
near misses and junk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from inbox.paging import encode_cursor
from tests.fuzz import cli_inputs as inputs

_FUTURE = st.integers(60, 10**8).map(lambda s: (datetime.now(UTC) + timedelta(seconds=s)).isoformat())
_COUNT = st.one_of(st.integers(-2, 12), st.integers(-(2**64), 2**64), st.sampled_from([2**31, 10**9 + 1, "3", True]))

# each field: (valid values, anything the grammar makes, near misses and junk included)
_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "cron": (inputs.valid_cron, inputs.cron),
    "every": (inputs.valid_duration, inputs.duration),
    "at": (_FUTURE, inputs.instant),
    "in": (inputs.valid_duration, inputs.duration),
    "tz": (inputs.valid_zone, inputs.zone),
    "session": (st.sampled_from(["main", "work", "x:y@z"]), inputs.session),
    "name": (st.sampled_from(["nightly", "a b"]), inputs.name),
    "prompt": (st.just("water the plants"), inputs.prompt),
    "text": (st.just("hello"), inputs.prompt),
    "script": (st.sampled_from(["echo '{\"wakeAgent\": false}'", ""]), inputs.prompt),
    "context": (st.sampled_from(["session", "series", "fresh"]), inputs.choice),
    "catch_up": (st.sampled_from(["once", "skip", "all"]), inputs.choice),
    "max_runs": (st.integers(1, 100), _COUNT),
    "timeout": (inputs.valid_duration, inputs.duration),
    "retries": (st.integers(0, 10), _COUNT),
    "remind": (st.booleans(), st.sampled_from([0, 1, "true", None])),
    "model": (st.just("fake-model"), inputs.anything),
    "provider": (st.sampled_from(["openai", "anthropic"]), inputs.anything),
    "on": (
        st.lists(st.sampled_from(["fuzz.*", "mail.received", "github.**", "**"]), min_size=1, max_size=3),
        st.one_of(st.lists(inputs.event_pattern, max_size=3), inputs.event_pattern, st.just([]), _COUNT),
    ),
    "after": (  # the seeded tasks' names (tests/fuzz/test_http_schema.py)
        st.lists(st.sampled_from(["yearly", "downstream"]), min_size=1, max_size=2),
        st.one_of(st.lists(inputs.upstream, max_size=3), inputs.upstream, st.just([]), _COUNT),
    ),
    "when": (st.sampled_from(["all_success", "all_done", "any_success"]), inputs.when_rule),
}
SCHEDULES = ("cron", "every", "at", "in", "on", "after")
TASK_OPTIONS: tuple[str, ...] = ("tz", "session", "name", "script", "context", "catch_up", "max_runs", "timeout")
TASK_OPTIONS += ("retries", "remind", "model", "provider", "when")


@st.composite
def _body(draw: st.DrawFn, required: tuple[str, ...], optional: tuple[str, ...], least: int = 0) -> dict[str, Any]:
    keys = list(required) + sorted(draw(st.sets(st.sampled_from(optional), min_size=least, max_size=3)))
    odd = draw(st.sampled_from([None, *keys]))  # the one field, if any, that is not drawn from valid values
    return {key: draw(_FIELDS[key][1] if key == odd else _FIELDS[key][0]) for key in keys}


@st.composite
def new_task(draw: st.DrawFn) -> dict[str, Any]:
    # one schedule option as documented, sometimes none or two, which must be refused
    count = draw(st.sampled_from([1, 1, 1, 1, 0, 2]))
    schedules = tuple(draw(st.permutations(SCHEDULES))[:count])
    return draw(_body(("prompt", *schedules), TASK_OPTIONS))


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
_DEEP = st.integers(1, 900).map(lambda n: {"a": _nested(n)})


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


_EVENT_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "name": (st.one_of(st.sampled_from(["fuzz.one", "mail.received"]), inputs.valid_event_name), inputs.event_name),
    "data": (_JSON, st.one_of(_DEEP, st.sampled_from(["\x00", {"k\x00": 1}, "x" * (1 << 20), 2**70]), inputs.anything)),
    "session": (st.sampled_from(["main", "work"]), inputs.session),
    "key": (st.sampled_from(["k1", "k2", "delivery/42"]), inputs.key),
}


@st.composite
def new_event(draw: st.DrawFn) -> dict[str, Any]:
    keys = ["name", *sorted(draw(st.sets(st.sampled_from(["data", "session", "key"]), max_size=3)))]
    odd = draw(st.sampled_from([None, *keys]))
    return {key: draw(_EVENT_FIELDS[key][1] if key == odd else _EVENT_FIELDS[key][0]) for key in keys}


BODIES: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("POST", "/v1/events"): new_event(),
    ("POST", "/v1/tasks"): new_task(),
    ("POST", "/v1/messages"): _body(("text",), ("session", "tz", "at", "in")),
    ("PATCH", "/v1/tasks/{task_id}"): _body(
        (), ("prompt", "cron", "every", "at", "on", "after", "when", "tz", "script", "name"), least=1
    ),
}


# Query strings and path ids are text without lone surrogates (they cannot be percent-encoded), NUL included:
# PostgreSQL refuses NUL in any text it is asked to compare.
_QUERY_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\x00", "a\x00b", "main", "x" * 300, "%00", "' OR 1=1 --", "01M8", "é"]),
)
# an id that is empty, holds "/" or is a dot segment makes another URL, not another id
ODD_IDS = _QUERY_TEXT.filter(lambda text: text not in ("", ".", "..") and "/" not in text)
_LIMIT = st.one_of(st.integers(-2, 12), st.sampled_from([1_000, 1_001, 10_000, 2**31, 2**63]))
# a cursor of each listing, of another, edited, or anything: only a cursor the listing made is accepted
_CURSOR = st.one_of(
    _QUERY_TEXT,
    st.sampled_from(
        [
            encode_cursor("tasks:active", ("live", "2026-06-01T12:00:00+00:00", "01M8")),
            encode_cursor("tasks:all", ("ended", "01M8", "")),
            encode_cursor("tasks:active", ("ended", "zzz", "")),
            encode_cursor("runs", ("2026-06-01T12:00:00+00:00", "01M8")),
            encode_cursor("runs", ("not a time", "01M8")),
            encode_cursor("outbox", ("older", "")),
            encode_cursor("outbox", ("newer", "01M8")),
            encode_cursor("outbox", ("sideways", "01M8")),
        ]
    ),
)
_OUTCOMES = st.sampled_from(["completed", "failed", "skipped", "script_error", "timeout", "missed", "nope"])


def _query(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


QUERIES: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("GET", "/v1/tasks"): _query(
        session=_QUERY_TEXT,
        status=st.one_of(_QUERY_TEXT, st.sampled_from(["all", "ended"])),
        limit=_LIMIT,
        cursor=_CURSOR,
    ),
    ("GET", "/v1/outbox"): _query(session=_QUERY_TEXT, after=_QUERY_TEXT, limit=_LIMIT, cursor=_CURSOR),
    ("GET", "/v1/tasks/{task_id}/runs"): _query(limit=_LIMIT, status=st.one_of(_OUTCOMES, _QUERY_TEXT), cursor=_CURSOR),
    ("GET", "/v1/graph"): _query(task=st.one_of(st.sampled_from(["yearly", "downstream"]), _QUERY_TEXT)),
}
