"""An agent's tool call and a take-back of its runner's lease, racing on PostgreSQL.

A tool acts only while its runner holds the row. The check and the tool's writes are one transaction, so a
take-back (the sweeper reclaiming an expired lease) either comes first and the tool is refused, or waits and
the tool's writes were made under the lease: never a tool acting after its lease was taken back.
(SQLite serializes every writer, so there the two cannot interleave.)
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from agent_runner.protocol import ToolAnswer, ToolRequest
from inbox.store.claims import reclaim_expired
from inbox.store.engine import transaction
from inbox.store.types import utcnow
from tests.integration.test_agent_tools import Host, host, limits, working_on_chat

__all__ = ["host", "limits"]  # the fixtures, shared with the tools' tests


def test_a_tool_does_not_act_after_its_lease_was_taken_back(host: Host, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time: a take-back cannot land inside a tool call")
    target = host.inbox.schedule("water the plants", every="1d", session="a")
    tools = working_on_chat(host)
    answers: list[ToolAnswer | int] = []

    def pause() -> None:
        request = ToolRequest(name="pause_task", arguments={"task_id": target.id}, message_id=tools.message_id)
        try:
            answers.append(tools.client.tool(request))
        except Exception as exc:  # the refusal: an HTTP status
            answers.append(getattr(getattr(exc, "response", None), "status_code", -1))

    with transaction(host.inbox.engine) as sweeper:
        # The task's row is busy for a moment (another writer holds it), so the tool call, once past whatever
        # check it makes first, waits here while the sweeper takes the lease back.
        sweeper.execute(text("SELECT id FROM messages_in WHERE id = :id FOR UPDATE"), {"id": target.id})
        caller = threading.Thread(target=pause)
        caller.start()
        me = sweeper.execute(text("SELECT pg_backend_pid()")).scalar_one()
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE :me = ANY(pg_blocking_pids(pid))")
        deadline = time.monotonic() + 10
        with host.inbox.engine.connect() as look:
            while look.execute(waiting, {"me": me}).scalar_one() == 0:
                assert time.monotonic() < deadline, "the tool call never reached the busy row"
                look.rollback()  # the statistics views keep one snapshot per transaction
                time.sleep(0.02)
        taken_back = [row.id for row in reclaim_expired(sweeper, now=utcnow() + timedelta(hours=1))]
    caller.join(timeout=10)

    [answer] = answers
    acted = isinstance(answer, ToolAnswer) and answer.ok
    assert not (acted and tools.message_id in taken_back), "the tool acted after its lease was taken back"
    assert acted or answer == 409
    assert (host.row(target.id).status == "paused") == acted
