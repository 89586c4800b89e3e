"""The host's own image (dockerfiles/host.Dockerfile), built offline and run against the engine here: it keeps
its SQLite store in a folder mounted from this machine, starts runner containers through the mounted engine
socket, and delivers what is scheduled through it.

Needs an engine and what tests/containers.py builds the image from; ``.ci/run`` provides them. With
``INBOX_TEST_RUNNER_IMAGE`` the host also runs a script-gated reminder in a runner container of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inbox import Inbox
from tests.containers import SOCKET, engine, host_image, remove_host_leftovers

pytestmark = [pytest.mark.slow, pytest.mark.container]
RUNNER_IMAGE = os.environ.get("INBOX_TEST_RUNNER_IMAGE")
WAIT_S = 90


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[Any, str]]:
    client = engine()
    yield client, host_image(client)
    client.close()


def _wait(what: str, check: Callable[[], Any], container: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        container.reload()
        if container.status not in ("created", "running"):
            break
        time.sleep(0.5)
    logs = container.logs().decode(errors="replace")
    pytest.fail(f"waited in vain for {what}; the host container ({container.status}) said:\n{logs}")


def _inbox(container: Any, *args: str) -> Any:
    code, output = container.exec_run(["inbox", *args, "--json"])
    assert code == 0, output.decode(errors="replace")
    return json.loads(output)


@pytest.fixture
def host(image: tuple[Any, str]) -> Iterator[tuple[Any, Path]]:
    client, tag = image
    # Mounted at the same path inside: the engine mounts the runners' socket folder by it. A short path, so the
    # socket stays in $INBOX_HOME/run (a long one moves to the host container's own /tmp).
    home = Path(tempfile.mkdtemp(prefix="inbox-host-", dir="/tmp"))
    environment = {"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}
    if RUNNER_IMAGE:
        environment |= {"INBOX_RUNTIME": "docker", "INBOX_RUNNER_IMAGE": RUNNER_IMAGE, "INBOX_RUNNER_IDLE": "20"}
    container = client.containers.run(
        tag,
        command=["serve", "--interval", "1"],
        name=f"inbox-host-test-{uuid.uuid4().hex[:8]}",
        detach=True,
        init=True,
        environment=environment,
        volumes={str(home): {"bind": str(home), "mode": "rw"}, SOCKET: {"bind": SOCKET, "mode": "rw"}},
    )
    try:
        _wait("the host to start", lambda: b"runners connect on" in container.logs(), container)
        yield container, home
    finally:
        container.stop(timeout=20)
        container.reload()
        container.remove(force=True)
        remove_host_leftovers(client, str(container.attrs["Config"]["Hostname"]), home)
        shutil.rmtree(home, ignore_errors=True)


def test_a_reminder_scheduled_through_the_host_container_is_delivered(host: tuple[Any, Path]) -> None:
    container, home = host
    made = _inbox(container, "schedule", "Take the bins out", "--in", "2s", "--remind")
    delivered = _wait(
        "the reminder in the outbox",
        lambda: [o for o in _inbox(container, "outbox") if o["text"] == "Take the bins out"],
        container,
    )
    assert delivered[0]["in_reply_to"] == made["id"]
    # the store is the mounted folder's: this machine reads the same outbox
    with Inbox(f"sqlite:///{home / 'inbox.db'}", env={"INBOX_HOME": str(home)}) as inbox:
        assert [o.text for o in inbox.outbox()] == ["Take the bins out"]


@pytest.mark.skipif(not RUNNER_IMAGE, reason="INBOX_TEST_RUNNER_IMAGE names no runner image")
def test_the_host_container_starts_runner_containers_through_the_mounted_socket(host: tuple[Any, Path]) -> None:
    container, home = host
    script = home / "gate.sh"
    script.write_text('#!/bin/sh\necho \'{"wakeAgent": true, "data": {"checked": 7}}\'\n')
    made = _inbox(container, "schedule", "Gated", "--in", "2s", "--remind", "--script", str(script))
    delivered = _wait(
        "the script-gated reminder",
        lambda: [o for o in _inbox(container, "outbox") if o["in_reply_to"] == made["id"]],
        container,
    )
    text = delivered[0]["text"]
    assert text.startswith("Gated") and json.loads(text.split("\n", 1)[1]) == {"checked": 7}
    logs = container.logs().decode(errors="replace")
    assert "runtime: docker" in logs and "started container" in logs
