"""A real ``inbox serve --listen 127.0.0.1:0`` on the backend under test, reached over loopback HTTP.

The host keeps working while it is fuzzed: a message or task the fuzzer creates can come due, start a runner
(the process runtime, answering through the fake model provider) and write runs and replies. "A rejected
request wrote nothing" is only decidable while nothing else writes, so :meth:`ApiHost.settle` first waits
until no row is running or due within the next few seconds; a series that keeps coming due is paused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import schemathesis
from schemathesis.core.result import Ok
from sqlalchemy import or_
from sqlmodel import col, select

from inbox.enums import Status
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.types import utcnow
from tests.acceptance.served import Served
from tests.fuzz.store_state import StoreState, store_state

TOKEN = "fuzz-admin-token-4f1c2a9e7b"
QUIET_AHEAD = timedelta(seconds=5)  # longer than any one request takes, so nothing comes due during it
SETTLE_S = 30.0
_ADDRESS = re.compile(r"listening on (http://[\d.]+:\d+)")


@dataclass
class ApiHost:
    served: Served
    base_url: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def state(self) -> StoreState:
        return store_state(self.served.inbox.engine)

    def _busy(self) -> list[MessageIn]:
        soon = utcnow() + QUIET_AHEAD
        with transaction(self.served.inbox.engine) as db:
            due = (col(MessageIn.status) == Status.PENDING.value) & (col(MessageIn.process_after) <= soon)
            busy = or_(col(MessageIn.status) == Status.RUNNING.value, due)
            return list(db.exec(select(MessageIn).where(busy)).all())

    def settle(self) -> None:
        """Return once the host has nothing running and nothing due within :data:`QUIET_AHEAD`."""
        deadline = time.monotonic() + SETTLE_S
        paused: set[str] = set()
        while busy := self._busy():
            for row in busy:
                # A series that comes due again and again (every 1s) would never let the host rest.
                if row.series_id and row.series_id not in paused and row.recurrence:
                    paused.add(row.series_id)
                    self.served.inbox.pause(row.series_id)
            if time.monotonic() > deadline:
                rows = ", ".join(f"{r.id} {r.kind} {r.status} due {r.process_after}" for r in busy)
                raise AssertionError(
                    f"the host did not finish its work in {SETTLE_S:g} s: {rows}\n"
                    f"--- host logs ---\n{self.served.log_text()}"
                )
            time.sleep(0.05)


def operations(api: ApiHost) -> list[Any]:
    """Every operation of the host's served ``/openapi.json``, as Schemathesis reads it."""
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    read = list(schema.get_all_operations())
    broken = [result.err() for result in read if not isinstance(result, Ok)]
    assert not broken, f"the served schema has operations Schemathesis cannot read: {broken}"
    found = [result.ok() for result in read if isinstance(result, Ok)]
    assert any(op.path == "/v1/tasks" for op in found), "the schema lists no /v1 operations"
    return found


def start_api_host(served: Served, token: str = TOKEN) -> ApiHost:
    """Start ``inbox serve`` on a free loopback port and learn the port from what it prints."""
    served.start_host("--listen", "127.0.0.1:0", INBOX_API_TOKEN=token, INBOX_RUNTIME="process")
    found = served.wait_for("the host's HTTP address", lambda: _ADDRESS.search(served.log_text()), timeout_s=60)
    base_url = found.group(1)
    served.wait_for("the API to answer", lambda: _answers(base_url), timeout_s=30)
    return ApiHost(served, base_url, token)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/openapi.json", timeout=5).status_code == 200
    except httpx.TransportError:
        return False
