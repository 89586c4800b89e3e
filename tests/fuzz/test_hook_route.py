"""``POST /v1/hooks/NAME`` of a running ``inbox serve``, fuzzed with the hook's secret and without it.

Bodies are JSON (valid or broken), text, bytes that are not UTF-8, NUL characters and NaN, sent as JSON or as
text, with a bearer secret, a right or wrong signature, or an admin token; names are the hook's, another's or
odd. Every answer is 202, 401, 413 or 422 (never a 5xx); every refusal writes nothing; an accepted call writes
exactly one event named ``hook.NAME``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from tests.fuzz.http_inputs import ODD_IDS
from tests.fuzz.served_api import ApiHost

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
_BODIES = st.one_of(
    _JSON.map(lambda value: json.dumps(value).encode()),  # NaN and Infinity included: json.dumps writes them
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b'{"a": 1', b'"\\u0000"', b"\x00", b"\xff", b"x" * (1 << 20), b"y" * ((1 << 20) + 1)]),
)
_TYPES = st.sampled_from(["application/json", "text/plain", "application/vnd.x+json", "", "application/json; x=1"])
_KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k" * 201, "\t", "é"]), st.text(max_size=10))
_PROOFS = st.sampled_from(["bearer", "signature", "wrong bearer", "wrong signature", "admin token", "none"])


def _headers(api: ApiHost, secret: str, proof: str, body: bytes, kind: str, key: str | None) -> dict[str, str]:
    headers = {"content-type": kind} if kind else {}
    if key is not None and key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = key
    signed = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    proofs = {
        "bearer": {"Authorization": f"Bearer {secret}"},
        "signature": {"X-Inbox-Signature": signed},
        "wrong bearer": {"Authorization": "Bearer x" + secret},
        "wrong signature": {"X-Inbox-Signature": signed[:-1] + ("0" if signed[-1] != "0" else "1")},
        "admin token": api.auth,
        "none": {},
    }
    return {**headers, **proofs[proof]}


def test_the_hook_route_never_fails_and_refusals_write_nothing(api_host: ApiHost, backend: str) -> None:
    inbox = api_host.served.inbox
    inbox.schedule("hears every hook", on=["hook.**"], remind=True)
    secrets = {"fuzzed": inbox.create_hook("fuzzed").secret, "told": inbox.create_hook("told", message=True).secret}
    api_host.settle()

    @fuzz_settings(default_examples=120 if backend == "sqlite" else 40)
    @given(
        name=st.one_of(st.sampled_from(sorted(secrets)), ODD_IDS),
        body=_BODIES,
        kind=_TYPES,
        proof=_PROOFS,
        key=_KEYS,
    )
    def each_case(name: str, body: bytes, kind: str, proof: str, key: str | None) -> None:
        secret = secrets.get(name, secrets["fuzzed"])
        headers = _headers(api_host, secret, proof, body, kind, key)
        note(f"POST /v1/hooks/{name!r} {proof} {kind!r} key={key!r} body={body[:80]!r}")
        api_host.settle()
        before = api_host.state()
        path = "/v1/hooks/" + quote(name, safe="")
        response = httpx.post(api_host.base_url + path, content=body, headers=headers, timeout=60)
        note(f"{response.status_code} {response.text[:300]}")
        assert response.status_code in (202, 401, 404, 405, 413, 422), response.text[:300]
        answer: dict[str, Any] = response.json()
        if response.status_code == 202:
            assert name in secrets and proof in ("bearer", "signature")
            assert answer["name"] == f"hook.{name}"
            return
        assert api_host.state() == before, f"{response.status_code} but it wrote"
        if proof not in ("bearer", "signature") or name not in secrets:
            assert response.status_code in (401, 404, 405), response.text[:300]  # 404/405: the name makes another URL

    each_case()
