"""compose.yaml brought up with a compose command against the engine here: the host image beside PostgreSQL, the
host waiting for the database's health check, a reminder scheduled through ``exec`` delivered from the database,
which outlives the containers in its volume.

The file run is derived from compose.yaml: its services, images, environment, volumes, health check and
dependencies as they are, but no network (containers here may not send traffic to other addresses): each
service has ``network_mode: none``, no published port, and the host reaches PostgreSQL through its unix socket,
the server's socket folder shared through a volume. docs/operations.md ("Compose") says what this leaves out.

Needs an engine, a compose command, the host image's makings (tests/containers.py), a runner image
(``INBOX_TEST_RUNNER_IMAGE``: compose.yaml sets ``INBOX_RUNTIME=docker``) and a PostgreSQL image honouring the
official image's settings (``INBOX_TEST_POSTGRES_IMAGE``: .ci/run builds one offline, tests/data/postgres_image).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.containers import composes, engine, has_image, host_image, remove_host_leftovers, unavailable

pytestmark = [pytest.mark.slow, pytest.mark.container]
ROOT = Path(__file__).resolve().parents[2]
POSTGRES_IMAGE = os.environ.get("INBOX_TEST_POSTGRES_IMAGE", "inbox-ci-postgres")
RUNNER_IMAGE = os.environ.get("INBOX_TEST_RUNNER_IMAGE", "")
SOCKET_FOLDER = "/var/run/postgresql"
TIMEOUT_S = 180
WAIT_S = 90


def _offline(compose_file: Path) -> None:
    """compose.yaml without its network: the host reaches PostgreSQL through the socket folder they share."""
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = spec["services"]
    for service in services.values():
        service["network_mode"] = "none"
        service.pop("ports", None)
        service["volumes"].append(f"postgres-socket:{SOCKET_FOLDER}")
    del services["host"]["build"]  # the image is built beforehand, offline
    url = "postgresql://inbox:${POSTGRES_PASSWORD}@/inbox?host=" + SOCKET_FOLDER
    services["host"]["environment"]["INBOX_DATABASE_URL"] = url
    spec["volumes"]["postgres-socket"] = None
    compose_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


@dataclass
class Project:
    command: list[str]
    env: dict[str, str]
    home: Path

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [*self.command, *args], capture_output=True, text=True, env=self.env, timeout=TIMEOUT_S, check=False
        )
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}\n{self.logs()}"
        return done.stdout

    def logs(self) -> str:
        shown = subprocess.run([*self.command, "logs", "--no-color"], capture_output=True, text=True, env=self.env)
        return shown.stdout[-6000:]

    def inbox(self, *args: str) -> Any:
        return json.loads(self.run("exec", "-T", "host", "inbox", *args, "--json"))

    def outbox_wait(self, reply_to: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = [o for o in self.inbox("outbox") if o["in_reply_to"] == reply_to]
            if found:
                return found
            time.sleep(0.5)
        pytest.fail(f"waited in vain for the reminder in the outbox; the services said:\n{self.logs()}")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    found = composes()
    if not found:
        unavailable("neither the docker compose plugin nor docker-compose is installed")
    client = engine()
    try:
        if not has_image(client, POSTGRES_IMAGE):
            unavailable(f"no PostgreSQL image {POSTGRES_IMAGE} (.ci/run builds one offline: tests/data/postgres_image)")
        if not RUNNER_IMAGE or not has_image(client, RUNNER_IMAGE):
            unavailable("INBOX_TEST_RUNNER_IMAGE names no runner image (.ci/run builds one)")
        host = host_image(client)
        # A short path, mounted at the same path inside, as compose.yaml asks (the runners' socket lives in it).
        home = Path(tempfile.mkdtemp(prefix="inbox-compose-", dir="/tmp"))
        compose_file = tmp_path / "compose.yaml"  # its folder, the project's, has no .env
        _offline(compose_file)
        settings = {
            "COMPOSE_PROJECT_NAME": f"inbox-compose-{uuid.uuid4().hex[:8]}",
            "INBOX_HOME": str(home),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(12),
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            "INBOX_HOST_IMAGE": host,
            "INBOX_RUNNER_IMAGE": RUNNER_IMAGE,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "INBOX_", "POSTGRES_"))}
        made = Project([*found[0], "-f", str(compose_file)], env | settings, home)
        try:
            yield made
        finally:
            hostnames = [
                c.attrs["Config"]["Hostname"]
                for c in client.containers.list(
                    all=True, filters={"label": f"com.docker.compose.project={settings['COMPOSE_PROJECT_NAME']}"}
                )
            ]
            made.run("down", "--volumes", "--remove-orphans", "--timeout", "20")
            for hostname in hostnames:
                remove_host_leftovers(client, str(hostname), home)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        client.close()


def test_compose_up_delivers_a_reminder_from_postgres_and_keeps_it_across_down_and_up(project: Project) -> None:
    project.run("up", "-d")  # returns once PostgreSQL's health check passed and the host started
    made = project.inbox("schedule", "Water the plants", "--in", "3s", "--remind")
    delivered = project.outbox_wait(made["id"])
    assert [o["text"] for o in delivered] == ["Water the plants"]
    assert not (project.home / "inbox.db").exists()  # the store is PostgreSQL's, not a file in INBOX_HOME

    project.run("down", "--timeout", "20")  # containers gone, the database's volume kept
    project.run("up", "-d")
    assert [o["text"] for o in project.outbox_wait(made["id"])] == ["Water the plants"]
