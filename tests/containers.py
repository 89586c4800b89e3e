"""What the tests that run the host's own image share: the engine, the image built offline, the compose commands
found here, and removing what a host container left behind.

The host image needs the offline base image (``INBOX_TEST_HOST_BASE``, default inbox-ci-base) and a folder of the
dependencies' wheels (``INBOX_TEST_HOST_WHEELS``); ``.ci/run`` provides both. It is tagged by what it is made of,
so it is built once per change of the sources. Where something is missing the test is skipped, and fails in CI,
which provides everything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

from scripts.host_image import build
from sweeper.runtimes.containers import LABEL

HOST_BASE = os.environ.get("INBOX_TEST_HOST_BASE", "inbox-ci-base")
HOST_WHEELS = os.environ.get("INBOX_TEST_HOST_WHEELS", "")
SOCKET = "/var/run/docker.sock"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"this container test must run in CI: {reason}")
    pytest.skip(reason)


def engine() -> Any:
    """A client of the engine here (the caller closes it)."""
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:
        unavailable(f"no container engine answers ({type(exc).__name__})")
    return client


def has_image(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except Exception:  # docker.errors.ImageNotFound
        return False
    return True


def host_image(client: Any) -> str:
    """The tag of the host image of this checkout, built offline unless it exists."""
    if not has_image(client, HOST_BASE):
        unavailable(f"no base image {HOST_BASE} (.ci/run makes it offline with debootstrap)")
    if not HOST_WHEELS or not any(Path(HOST_WHEELS).glob("pydantic_core-*.whl")):
        unavailable("INBOX_TEST_HOST_WHEELS names no folder of the dependencies' wheels (.ci/run downloads them)")
    return build(client, base=HOST_BASE, wheels=Path(HOST_WHEELS))


def composes() -> list[list[str]]:
    """Each compose command here: the engine's plugin and Debian's own ``docker-compose`` (1.29)."""
    found = []
    if shutil.which("docker") is not None:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            found.append(["docker", "compose"])
    if shutil.which("docker-compose") is not None:
        found.append(["docker-compose"])
    return found


def remove_host_leftovers(client: Any, hostname: str, home: Path) -> None:
    """The runner containers a host container (by its hostname) started, and its installation's workspaces."""
    machine = hostname[:40]
    for runner in client.containers.list(all=True, filters={"label": LABEL}):
        if runner.labels.get("org.inbox.host", "").startswith(f"{machine}-"):
            runner.remove(force=True)
    install = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:10]
    for volume in client.volumes.list(filters={"name": f"inbox-ws-{install}-"}):
        volume.remove(force=True)
