"""A webhook call gets its work going at once, not at the host's next look: a real ``inbox serve --listen`` whose
safety-net pass comes only every 60 s, a ``--message`` hook, and a hook a task in another session listens for.

The first calls find no runner (the host starts one); the second ones find the session's runner waiting in its
claim (the call rings the session's bell, and the waiting claim takes the work). Each must be done long before
the next pass would have found it.
"""

from __future__ import annotations

import re

import httpx

from scripts.fake_provider.server import ScriptedReply
from tests.acceptance.served import Served

LISTENING = re.compile(r"listening on (http://\S+:\d+)")
SWEEP_S = 60
PROMPT_WAIT_S = 30.0  # well inside one sweep interval: the work was not found by a pass


def _reply_to(served: Served, message_id: str) -> list[str]:
    return [item.text for item in served.inbox.outbox(session="phone") if item.in_reply_to == message_id]


def test_hook_calls_start_their_work_without_waiting_for_the_sweep(served: Served) -> None:
    note = served.inbox.create_hook("note", session="phone", message=True).secret
    push = served.inbox.create_hook("push").secret
    listening = served.inbox.schedule("look at the push", on=["hook.push"], session="ops")
    served.fake.respond_with(lambda _request: ScriptedReply("noted"))
    served.start_host("--runtime", "process", "--listen", "127.0.0.1:0", INBOX_SWEEP_INTERVAL=str(SWEEP_S))
    found = served.wait_for("the host to listen", lambda: LISTENING.search(served.log_text()))
    served.wait_for("the first pass", lambda: "drop folder: watching" in served.log_text())

    with httpx.Client(base_url=found[1], timeout=30) as http:
        for n in (1, 2):  # the first finds no runner in either session, the second a runner waiting in each
            call = http.post("/v1/hooks/note", content=f"buy milk {n}".encode(), headers=_bearer(note))
            assert call.status_code == 202 and call.json()["message_id"], call.text
            message_id = call.json()["message_id"]
            served.wait_for(f"the reply to note {n}", lambda m=message_id: _reply_to(served, m), PROMPT_WAIT_S)
            assert http.post("/v1/hooks/push", content=b"{}", headers=_bearer(push)).status_code == 202
            served.wait_for_runs(listening.series_id, n, PROMPT_WAIT_S)

    asked = [str(request.json) for request in served.fake.requests]
    assert any("buy milk 1" in text for text in asked) and any("buy milk 2" in text for text in asked)
    assert [run.outcome for run in served.runs(listening.series_id)] == ["completed", "completed"]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
