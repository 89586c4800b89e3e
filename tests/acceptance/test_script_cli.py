"""``inbox script test``: a pre-script run exactly as a task would run it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "prescripts"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "INBOX_TZ", "INBOX_DATABASE_URL")}
    env["INBOX_HOME"] = str(home)
    return env


def test_script_test_runs_a_ready_script_with_the_given_environment(tmp_path: Path, home: Path) -> None:
    env = _env(home)
    watched = tmp_path / "drop"
    watched.mkdir()
    script = str(SCRIPTS / "files_waiting.sh")
    command = ["inbox", "script", "test", script, "--json", "--env", f"WATCH_DIR={watched}"]
    empty = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(empty.stdout)["verdict"] == "skipped" and empty.returncode == 0
    (watched / "invoice.pdf").write_text("x")
    found = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(found.stdout)["verdict"] == "wake"
    assert json.loads(found.stdout)["data"]["files"] == ["invoice.pdf"]
    broken = subprocess.run([*command[:-2], "--env", "WATCH_DIR"], env=env, capture_output=True, text=True)
    assert broken.returncode == 2 and "--env" in broken.stderr
