"""The drop folder end to end: a real ``inbox serve --runtime process`` takes the files of ``$INBOX_HOME/drop``.

A kill -9 between writing a file's message and moving the file, then a restart: the message exists once. Two
hosts on one store watching one folder: each file becomes one message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from inbox.drop_files import PAUSE_VAR
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow


def _drop(served: Served, name: str, content: str | bytes) -> Path:
    """Written beside, then renamed into place (as a careful writer does)."""
    path = served.home / "drop" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    hidden = path.with_name("." + path.name + ".part")
    hidden.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.rename(hidden, path)
    return path


def _dropped(served: Served) -> list[MessageIn]:
    with read_transaction(served.inbox.engine) as db:
        query = select(MessageIn).where(MessageIn.created_by == "drop").order_by(col(MessageIn.id))
        return list(db.exec(query).all())


def _moved(served: Served, into: str) -> set[str]:
    folder = served.home / "drop" / into
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _start(served: Served, *args: str, **env: str) -> None:
    served.start_host("--runtime", "process", *args, **env)
    served.wait_for("the drop folder to be watched", lambda: "drop folder: watching" in served.log_text())


def test_text_json_and_event_files_become_messages_and_bad_ones_fail_with_a_reason(served: Served) -> None:
    listening = served.inbox.schedule("look at the drop", on=["dropped.*"])
    _start(served)
    _drop(served, "note.txt", "Call the plumber")
    _drop(served, "work/later.json", json.dumps({"text": "Standup notes", "in": "2h"}))
    _drop(served, "ping.json", json.dumps({"event": "dropped.ping", "data": {"n": 1}}))
    os.symlink("/etc/passwd", served.home / "drop" / "link.txt")
    bad = {
        "broken.json": "{",
        "number.json": json.dumps({"text": 5}),
        "extra.json": json.dumps({"text": "x", "session": "other"}),
        "badname.json": json.dumps({"event": "a..b"}),
        "past.json": json.dumps({"text": "x", "at": "2001-01-01T00:00:00Z"}),
        "image.png": "not taken",
        "empty.txt": "",
        "x y/in-a-bad-folder.txt": "no session",
        "big.txt": "x" * ((1 << 20) + 1),
    }
    for name, content in bad.items():
        _drop(served, name, content)
    served.wait_for(
        "every file to move", lambda: len(_moved(served, ".done")) == 3 and len(_moved(served, ".failed")) == 20
    )
    assert _moved(served, ".done") == {"note.txt", "work-later.json", "ping.json"}
    errors = {p.name[: -len(".error")]: p.read_text() for p in (served.home / "drop" / ".failed").glob("*.error")}
    assert set(errors) == {"link.txt", "x y-in-a-bad-folder.txt", *(n for n in bad if "/" not in n)}
    assert "symbolic link" in errors["link.txt"] and "not JSON" in errors["broken.json"]
    assert "text: must be a text" in errors["number.json"] and errors["extra.json"].count("session:") == 1
    assert "name:" in errors["badname.json"] and "at:" in errors["past.json"] and "1024 KiB" in errors["big.txt"]
    assert "only .txt, .md and .json" in errors["image.png"] and "names no session" in errors["x y-in-a-bad-folder.txt"]

    note, later = _dropped(served)
    assert (note.session, note.kind, note.content["text"]) == ("main", "chat", "Call the plumber")
    assert (later.session, later.content["text"], later.status) == ("work", "Standup notes", "pending")
    assert later.process_after - later.created_at >= timedelta(hours=2) - timedelta(seconds=1)
    with read_transaction(served.inbox.engine) as db:
        [event] = db.exec(select(Event)).all()
    assert (event.name, event.data, event.created_by, event.session) == ("dropped.ping", {"n": 1}, "drop", None)
    served.wait_for_runs(listening.series_id, 1)


def test_the_polling_watch_takes_files_too(served_sqlite: Served) -> None:
    _start(served_sqlite, WATCHFILES_FORCE_POLLING="1")
    assert "(polling)" in served_sqlite.log_text()
    _drop(served_sqlite, "polled.md", "# taken by polling")
    served_sqlite.wait_for("the file to move", lambda: _moved(served_sqlite, ".done") == {"polled.md"})
    assert [m.content["text"] for m in _dropped(served_sqlite)] == ["# taken by polling"]


def test_a_file_written_slowly_in_place_is_read_only_once_complete(served_sqlite: Served) -> None:
    _start(served_sqlite)
    path = served_sqlite.home / "drop" / "slow.txt"
    with open(path, "w") as fh:
        for part in ("first half, ", "second half"):
            fh.write(part)
            fh.flush()
            time.sleep(0.5)
    served_sqlite.wait_for("the file to move", lambda: _moved(served_sqlite, ".done") == {"slow.txt"})
    assert [m.content["text"] for m in _dropped(served_sqlite)] == ["first half, second half"]


def test_a_host_killed_between_writing_and_moving_leaves_one_message_after_restart(served: Served) -> None:
    host = served.start_host("--runtime", "process", **{PAUSE_VAR: "60"})
    served.wait_for("the drop folder to be watched", lambda: "drop folder: watching" in served.log_text())
    path = _drop(served, "once.txt", "exactly once")
    served.wait_for("the message to be written", lambda: _dropped(served))
    assert path.exists(), "the file moves only after the pause"
    served.kill_host(host)
    _start(served)
    served.wait_for("the file to move", lambda: _moved(served, ".done") == {"once.txt"})
    assert [m.content["text"] for m in _dropped(served)] == ["exactly once"]


def test_two_hosts_watching_one_folder_take_each_file_once(served: Served) -> None:
    _start(served)
    _start(served)
    for index in range(40):
        _drop(served, f"file-{index:02d}.txt", f"message {index}")
    served.wait_for("every file to move", lambda: len(_moved(served, ".done")) == 40, timeout_s=60)
    texts = sorted(m.content["text"] for m in _dropped(served))
    assert texts == sorted(f"message {index}" for index in range(40))
    assert _moved(served, ".failed") == set()


def test_cron_mode_takes_the_complete_files_once(served_sqlite: Served) -> None:
    path = _drop(served_sqlite, "from-cron.txt", "swept")
    os.utime(path, (time.time() - 5, time.time() - 5))
    done = subprocess.run(
        ["inbox", "sweep", "--once", "--runtime", "process"],
        env=served_sqlite.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _moved(served_sqlite, ".done") == {"from-cron.txt"}
    assert [m.content["text"] for m in _dropped(served_sqlite)] == ["swept"]
