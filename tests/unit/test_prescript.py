"""Pre-script runner: real subprocesses, no mocks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agent_runner.prescript import ScriptResult, ScriptVerdict, describe, run_prescript


def emit(obj: object) -> str:
    """A bash script printing one JSON line."""
    return f"printf '%s\\n' '{json.dumps(obj)}'\n"


def python(*lines: str) -> str:
    """A Python script with its own interpreter line."""
    return "#!/usr/bin/env python3\n" + "\n".join(lines) + "\n"


def is_gone(pid: int) -> bool:
    """True when the process no longer runs (absent, or a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int, within_s: float = 3.0) -> bool:
    until = time.monotonic() + within_s
    while time.monotonic() < until:
        if is_gone(pid):
            return True
        time.sleep(0.02)
    return is_gone(pid)


def assert_error(result: ScriptResult, reason: str) -> None:
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR, result
    assert result.reason == reason
    assert describe(result) == f"script_error: {reason}"


# --- protocol -------------------------------------------------------------------------------------------------------


def test_wake_with_data() -> None:
    result = run_prescript(emit({"wakeAgent": True, "data": {"new": [1, 2], "note": "é"}}))
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data == {"new": [1, 2], "note": "é"}
    assert result.reason is None
    assert result.exit_code == 0
    assert result.duration_s > 0
    assert describe(result) == 'wake: data={"new": [1, 2], "note": "é"}'


@pytest.mark.parametrize("data", [0, False, "", [], {}])
def test_wake_keeps_falsy_data(data: object) -> None:
    result = run_prescript(emit({"wakeAgent": True, "data": data}))
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data == data
    assert type(result.data) is type(data)


def test_wake_without_data_gives_none() -> None:
    result = run_prescript(emit({"wakeAgent": True}))
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data is None
    assert describe(result) == "wake: data=null"


def test_skipped() -> None:
    result = run_prescript(emit({"wakeAgent": False, "data": {"ignored": True}}))
    assert result.verdict == ScriptVerdict.SKIPPED
    assert result.reason is None
    assert result.exit_code == 0
    assert describe(result) == "skipped"


def test_nonzero_exit_is_error_even_with_valid_json() -> None:
    result = run_prescript(emit({"wakeAgent": True, "data": 1}) + "exit 3\n")
    assert_error(result, "exit code 3")
    assert result.exit_code == 3
    assert result.data is None
    assert '"wakeAgent": true' in result.stdout_tail


def test_bad_json() -> None:
    result = run_prescript("echo '{\"wakeAgent\": tru'\n")
    assert_error(result, 'last line is not JSON: {"wakeAgent": tru')


def test_json_that_is_not_an_object() -> None:
    result = run_prescript("echo '[true]'\n")
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason is not None and "not a JSON object" in result.reason


def test_missing_wake_agent() -> None:
    assert_error(run_prescript(emit({"data": 1, "wake": True})), "missing wakeAgent")


@pytest.mark.parametrize(("value", "shown"), [("true", '"true"'), (1, "1"), (None, "null"), (0, "0")])
def test_wake_agent_must_be_a_boolean(value: object, shown: str) -> None:
    result = run_prescript(emit({"wakeAgent": value, "data": "x"}))
    assert_error(result, f"wakeAgent must be a JSON boolean, got {shown}")


@pytest.mark.parametrize("script", ["true\n", "echo\necho '   '\n", ""])
def test_no_output(script: str) -> None:
    assert_error(run_prescript(script), "no output")


def test_last_non_empty_line_decides() -> None:
    script = (
        "echo 'checking things...'\n"
        + emit({"wakeAgent": True, "data": "earlier"})
        + "echo 'log: still going'\n"
        + emit({"wakeAgent": False})
        + "printf '\\n\\n   \\n'\n"
    )
    assert run_prescript(script).verdict == ScriptVerdict.SKIPPED
    assert run_prescript("echo '{\"wakeAgent\": true}'\necho 'done'\n").reason == "last line is not JSON: done"


def test_crlf_line_endings_are_tolerated() -> None:
    result = run_prescript("printf '%s\\r\\n' 'log' '{\"wakeAgent\": true, \"data\": 5}'\n")
    assert result.verdict == ScriptVerdict.WAKE
    assert result.data == 5


# --- interpreters ---------------------------------------------------------------------------------------------------


def test_shebang_is_honoured() -> None:
    script = python("import json, sys", "print(json.dumps({'wakeAgent': True, 'data': sys.version_info.major}))")
    # under bash this would be a syntax error, so a wake proves the interpreter line was used
    result = run_prescript(script)
    assert result.verdict == ScriptVerdict.WAKE, result
    assert result.data == 3


def test_bash_is_the_default() -> None:
    script = 'x=abc\nif [[ $x == a* ]]; then echo \'{"wakeAgent": true, "data": "bash"}\'; fi\n'
    result = run_prescript(script)
    assert result.verdict == ScriptVerdict.WAKE, result
    assert result.data == "bash"


def test_missing_interpreter_is_a_script_error() -> None:
    result = run_prescript("#!/nonexistent/interpreter\n")
    assert result.verdict == ScriptVerdict.SCRIPT_ERROR
    assert result.reason is not None and result.reason.startswith("could not start")
    assert result.exit_code is None


def test_temp_files_are_removed(tmp_path: Path) -> None:
    result = run_prescript(f'echo "$0" > {tmp_path}/where\n' + emit({"wakeAgent": False}))
    assert result.verdict == ScriptVerdict.SKIPPED
    script_path = Path((tmp_path / "where").read_text().strip())
    assert script_path.name == "prescript"
    assert not script_path.exists()
    assert not script_path.parent.exists()


def test_cwd_is_used(tmp_path: Path) -> None:
    result = run_prescript('printf \'{"wakeAgent": true, "data": "%s"}\\n\' "$PWD"\n', cwd=str(tmp_path))
    assert result.data == str(tmp_path)


# --- limits ---------------------------------------------------------------------------------------------------------


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 300 &\necho $! > {pidfile}\necho started\nsleep 300\n"
    started = time.monotonic()
    result = run_prescript(script, timeout_s=1)
    elapsed = time.monotonic() - started
    assert_error(result, "timed out after 1 s")
    assert result.exit_code is None
    assert "started" in result.stdout_tail
    assert elapsed < 3
    pid = int(pidfile.read_text())
    assert wait_gone(pid), f"grandchild {pid} survived the timeout"


def test_timeout_applies_when_the_script_closes_its_pipes() -> None:
    result = run_prescript("exec >&- 2>&-\nsleep 300\n", timeout_s=1)
    assert_error(result, "timed out after 1 s")


def test_background_children_do_not_hold_up_the_result(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 &\necho $! > {pidfile}\n" + emit({"wakeAgent": True, "data": "quick"})
    started = time.monotonic()
    result = run_prescript(script, timeout_s=10)
    assert result.verdict == ScriptVerdict.WAKE
    assert time.monotonic() - started < 2
    assert wait_gone(int(pidfile.read_text()))


def test_stdout_cap() -> None:
    cap = 64 * 1024
    result = run_prescript(f"head -c {cap + 1} /dev/zero | tr '\\0' 'a'\n", max_output_bytes=cap)
    assert_error(result, "stdout exceeded 64 KiB")
    assert result.exit_code is None
    assert len(result.stdout_tail) == 4096


def test_output_exactly_at_the_cap_is_accepted() -> None:
    line = emit({"wakeAgent": True}).encode()
    padding = 64 * 1024 - len(b'{"wakeAgent": true}\n')
    script = f"head -c {padding} /dev/zero | tr '\\0' '\\n'\n" + line.decode()
    result = run_prescript(script, max_output_bytes=64 * 1024)
    assert result.verdict == ScriptVerdict.WAKE, result.reason


def test_stderr_cap() -> None:
    result = run_prescript(
        "head -c 100000 /dev/zero | tr '\\0' 'e' >&2\n" + emit({"wakeAgent": True}), max_output_bytes=64 * 1024
    )
    assert_error(result, "stderr exceeded 64 KiB")
    assert result.stderr_tail.endswith("e" * 100)


def test_default_cap_is_one_mib() -> None:
    script = python("import sys", "sys.stdout.write('x' * (2 << 20))", "print('{\"wakeAgent\": true}')")
    assert_error(run_prescript(script), "stdout exceeded 1 MiB")


def test_a_large_output_under_the_cap_is_read_fully() -> None:
    script = "head -c 900000 /dev/zero | tr '\\0' 'o' >&2\nhead -c 900000 /dev/zero | tr '\\0' '\\n'\n"
    result = run_prescript(script + emit({"wakeAgent": False}))
    assert result.verdict == ScriptVerdict.SKIPPED, result.reason


# --- environment and diagnostics ------------------------------------------------------------------------------------


def test_environment_is_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_TEST_SECRET", "hunter2")
    script = (
        'printf \'{"wakeAgent": true, "data": {"secret": "%s", "given": "%s", "path": "%s", "lang": "%s"}}\\n\' '
        '"${INBOX_TEST_SECRET:-unset}" "${GIVEN:-unset}" "$PATH" "$LANG"\n'
    )
    result = run_prescript(script, env={"GIVEN": "yes"})
    assert result.verdict == ScriptVerdict.WAKE, result.reason
    assert result.data == {"secret": "unset", "given": "yes", "path": "/usr/local/bin:/usr/bin:/bin", "lang": "C.UTF-8"}


def test_environment_has_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_TEST_SECRET", "hunter2")
    script = python("import json, os", "print(json.dumps({'wakeAgent': True, 'data': sorted(os.environ)}))")
    result = run_prescript(script, env={"ONLY": "1"})
    assert result.verdict == ScriptVerdict.WAKE, result.reason
    assert result.data == ["HOME", "LANG", "ONLY", "PATH"]


def test_given_env_overrides_the_defaults() -> None:
    result = run_prescript('printf \'{"wakeAgent": true, "data": "%s"}\\n\' "$HOME"\n', env={"HOME": "/nowhere"})
    assert result.data == "/nowhere"


def test_stderr_tail_is_captured_on_error() -> None:
    result = run_prescript("echo 'first complaint' >&2\necho 'disk on fire' >&2\nexit 4\n")
    assert_error(result, "exit code 4")
    assert result.stderr_tail == "first complaint\ndisk on fire\n"


def test_tails_are_limited_to_the_end() -> None:
    result = run_prescript("head -c 10000 /dev/zero | tr '\\0' 'a' >&2\necho END >&2\nexit 1\n")
    assert len(result.stderr_tail) == 4096
    assert result.stderr_tail.endswith("aaaEND\n")


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        run_prescript("true", timeout_s=0)
    with pytest.raises(ValueError):
        run_prescript("true", max_output_bytes=0)
