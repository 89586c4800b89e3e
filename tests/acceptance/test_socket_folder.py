"""Where the runners' socket lives: a folder only the host's user controls, and a socket nobody else may use.

When ``$INBOX_HOME/run`` makes too long a socket path, the host falls back to ``/tmp/inbox-DIGEST``: a name any
user of the machine can work out and make first, so the host refuses a folder it does not own alone.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeper.host import socket_path
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow
NOBODY = 65534


@pytest.fixture
def long_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / ("a-home-whose-path-is-too-long-for-a-unix-socket-" * 2)
    home.mkdir()
    fallback = socket_path(home).parent
    assert fallback.parent == Path("/tmp") and not fallback.exists()
    yield home
    shutil.rmtree(fallback, ignore_errors=True)


def _serve(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_") and k != "TZ"}
    env.update(INBOX_HOME=str(home), INBOX_RUNTIME="process")
    return subprocess.run(
        ["inbox", "serve"], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_fallback_folder_another_user_made_first_stops_the_host(long_home: Path) -> None:
    planted = socket_path(long_home).parent
    planted.mkdir(mode=0o755)
    os.chown(planted, NOBODY, NOBODY)
    refused = _serve(long_home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert str(planted) in line and f"owned by uid {NOBODY}" in line
    assert list(planted.iterdir()) == []  # no socket was made in it


def test_a_fallback_folder_others_can_write_to_stops_the_host(long_home: Path) -> None:
    planted = socket_path(long_home).parent
    planted.mkdir()
    planted.chmod(0o777)
    refused = _serve(long_home)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert str(planted) in line and "writable by others (mode 0777)" in line


def test_the_process_runtimes_socket_is_the_users_alone(served_sqlite: Served) -> None:
    served = served_sqlite
    served.fake.reply("hello")
    host = served.start_host()
    served.inbox.send("hi")
    served.wait_for("the answer", lambda: served.inbox.outbox())
    found = os.stat(served.home / "run" / f"host-{host.pid}.sock")
    assert stat.S_ISSOCK(found.st_mode) and stat.S_IMODE(found.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(served.home / "run").st_mode) & 0o077 == 0
