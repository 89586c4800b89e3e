"""What a pre-script reads on its standard input, and the ``state`` it may hand to the series' next run."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent_runner.prescript import MAX_STATE_BYTES, ScriptVerdict, input_document, run_prescript
from agent_runner.protocol import StateUpdate

ECHO = 'doc=$(cat)\necho "{\\"wakeAgent\\": true, \\"data\\": $doc}"\n'


def test_the_script_reads_the_event_data_and_state_as_one_json_document() -> None:
    event = {"id": "E1", "name": "mail.received", "data": {"from": "ann"}, "session": None}
    document = input_document(message_id="M1", series_id="S1", event=event, data=None, state={"n": 3})
    result = run_prescript(ECHO, stdin=document, env={"INBOX_EVENT_NAME": "mail.received"})
    assert result.verdict == ScriptVerdict.WAKE, result.reason
    assert result.data == {
        "message_id": "M1",
        "series_id": "S1",
        "slot": None,
        "event": event,
        "data": None,
        "state": {"n": 3},
    }


def test_a_script_that_ignores_its_input_still_runs() -> None:
    result = run_prescript("echo '{\"wakeAgent\": false}'", stdin=input_document(state="x" * 10_000))
    assert result.verdict == ScriptVerdict.SKIPPED and not result.state_given


def state_script(value: object) -> str:
    return f"echo '{json.dumps({'wakeAgent': False, 'state': value})}'"


def test_state_beside_the_decision_is_returned_null_too() -> None:
    kept = run_prescript(state_script({"seen": [1, 2]}))
    assert kept.verdict == ScriptVerdict.SKIPPED and kept.state_given and kept.state == {"seen": [1, 2]}
    cleared = run_prescript(state_script(None))
    assert cleared.state_given and cleared.state is None


def test_state_over_16_kib_is_a_script_error_naming_the_limit() -> None:
    result = run_prescript(state_script("x" * MAX_STATE_BYTES))
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason is not None and "16 KiB" in result.reason and "state" in result.reason
    assert not result.state_given


def test_state_that_is_not_storable_json_is_a_script_error() -> None:
    result = run_prescript('echo \'{"wakeAgent": true, "state": NaN}\'')
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR and "state" in (result.reason or "")


def test_the_host_refuses_a_state_over_the_limit_whatever_a_runner_sends() -> None:
    assert StateUpdate(value={"ok": 1}).value == {"ok": 1}
    with pytest.raises(ValidationError, match="16 KiB"):
        StateUpdate(value="x" * MAX_STATE_BYTES)
