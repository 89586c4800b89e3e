"""compose.yaml describes a host that can work: the engine's socket, INBOX_HOME at the same path inside and out,
PostgreSQL by a variable image name, and a build from the host Dockerfile. ``docker compose config`` checks it too
when the compose plugin is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_host_reaches_the_engine_and_keeps_inbox_home_at_the_same_path() -> None:
    host = _compose()["services"]["host"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in host["volumes"]
    assert "${INBOX_HOME}:${INBOX_HOME}" in host["volumes"]
    assert host["environment"]["INBOX_HOME"].startswith("${INBOX_HOME")
    assert host["environment"]["INBOX_RUNTIME"] == "docker"
    assert host["init"] is True  # a process runner's children are reaped
    assert host["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_host_uses_the_postgres_service_and_postgres_its_variable_image() -> None:
    services = _compose()["services"]
    image = VARIABLE.fullmatch(services["postgres"]["image"])
    assert image is not None and image[1] == "POSTGRES_IMAGE"
    url = services["host"]["environment"]["INBOX_DATABASE_URL"]
    assert url.startswith("postgresql://inbox:") and "@postgres:5432/inbox" in url
    env = services["postgres"]["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("inbox", "inbox")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_the_build_names_the_host_dockerfile() -> None:
    build = _compose()["services"]["host"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).resolve()
    assert dockerfile == ROOT / "dockerfiles" / "host.Dockerfile"
    assert "ARG BASE=python:3.11-slim" in dockerfile.read_text()
    assert "BASE" in build["args"]


def test_every_variable_it_needs_is_named_with_a_default_or_a_message() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m[1] for m in VARIABLE.finditer(text)}
    guarded = set(re.findall(r"\$\{(\w+):[-?]", text))
    assert used == guarded | {"INBOX_HOME", "POSTGRES_PASSWORD"}  # these two are required, with a message once
    assert {"INBOX_HOME", "POSTGRES_PASSWORD"} <= {m for m in re.findall(r"\$\{(\w+):\?", text)}


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker command")
def test_docker_compose_accepts_it(tmp_path: Path) -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env = {**os.environ, "INBOX_HOME": str(tmp_path), "POSTGRES_PASSWORD": "secret"}
    checked = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, env=env
    )
    assert checked.returncode == 0, checked.stderr
