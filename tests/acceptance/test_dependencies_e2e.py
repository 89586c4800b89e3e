"""Dependencies end to end: a real ``inbox serve`` with process runners and the fake model server; the upstream's
outcome and reply reach the downstream's pre-script on its standard input, and its model."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.served import Served

pytestmark = pytest.mark.slow

# Reads data.upstream from its input document and hands it to the model as its data.
READS_UPSTREAM = """#!/usr/bin/env python3
import json, sys
given = json.load(sys.stdin)
print(json.dumps({"wakeAgent": True, "data": {"seen": given["data"]["upstream"]}}))
"""


def test_the_upstream_reply_reaches_the_downstream_pre_script_and_model(served_sqlite: Served) -> None:
    served = served_sqlite
    fetch = served.inbox.schedule("Fetch the feeds", every="1h", name="fetch")
    digest = served.inbox.schedule("Write the digest", after=["fetch"], script=READS_UPSTREAM, name="digest")
    served.fake.script([{"text": "12 new items"}, {"text": "the digest"}])
    served.start_host()

    served.inbox.run_now(fetch.series_id)
    [run] = served.wait_for_runs(digest.series_id, 1)
    assert run.outcome == "completed", run.error
    assert run.model_output == "the digest"
    prompt = str(served.fake.requests[-1].json["messages"][-1]["content"])
    assert "Write the digest" in prompt
    [seen] = json.loads(prompt.split("Data from the task's pre-script:\n", 1)[1])["seen"]
    assert {k: seen[k] for k in ("series_id", "name", "outcome", "reply")} == {
        "series_id": fetch.series_id,
        "name": "fetch",
        "outcome": "completed",
        "reply": "12 new items",
    }
    assert "Data attached to this message" in prompt and "12 new items" in prompt.split("pre-script")[0]


def test_a_failed_upstream_ends_the_chain_upstream_failed_without_a_model_call(served_sqlite: Served) -> None:
    served = served_sqlite
    fetch = served.inbox.schedule("Fetch", every="1h", name="fetch", script="echo broken >&2; exit 3")
    digest = served.inbox.schedule("Digest", after=["fetch"], name="digest")
    mail = served.inbox.schedule("Mail it", after=["digest"], when="all_done", name="mail")
    served.start_host()

    served.inbox.run_now(fetch.series_id)
    [mailed] = served.wait_for_runs(mail.series_id, 1)  # all_done: it runs, and is told why there is no digest
    [fetched] = served.runs(fetch.series_id)
    [digested] = served.runs(digest.series_id)
    assert fetched.outcome == "script_error"
    assert (
        digested.outcome == "upstream_failed"
        and digested.error == f"upstream fetch ({fetch.series_id}) ended script_error"
    )
    assert mailed.outcome == "completed"
    assert len(served.fake.requests) == 1  # the mail task's only: neither fetch nor digest called the model
    prompt = str(served.fake.requests[0].json["messages"][-1]["content"])
    assert "Mail it" in prompt and "upstream_failed" in prompt
