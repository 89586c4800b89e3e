"""``INBOX_LOG_FORMAT=json``: a real ``inbox serve`` writes one JSON object per line, naming what each is about."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.served import Served

pytestmark = pytest.mark.slow


def test_json_lines_name_the_task_session_and_message_of_each_run(served: Served) -> None:
    made = served.inbox.schedule("check the weather", in_="1s", session="home")
    served.fake.error(500, message="try again")  # the first attempt fails and is retried, then it completes
    served.start_host(INBOX_LOG_FORMAT="json")
    served.wait_for_runs(made.series_id, 2, timeout_s=90)
    served.stop_hosts()

    lines = [line for line in served.log_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is a JSON object: none is text
    assert all({"at", "level", "logger", "message"} <= set(entry) for entry in parsed)
    about = [entry for entry in parsed if entry.get("message_id") == made.id]
    assert [(e["outcome"], e["attempt"], e["level"]) for e in about] == [
        ("failed", 1, "warning"),
        ("completed", 2, "info"),
    ]
    assert {(e["task"], e["session"]) for e in about} == {(made.series_id, "home")}
    assert about[1]["run_id"] and about[0]["at"].endswith("+00:00")


def test_a_bad_log_format_is_refused_naming_the_variable(served: Served) -> None:
    host = served.start_host(INBOX_LOG_FORMAT="xml")
    assert host.wait(timeout=60) == 2
    assert "INBOX_LOG_FORMAT" in served.log_text()
