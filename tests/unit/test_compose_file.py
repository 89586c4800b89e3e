"""compose.yaml describes a host that can work: the engine's socket, INBOX_HOME at the same path inside and out,
PostgreSQL by a variable image name, and a build from the host Dockerfile. Each compose command found (the plugin,
Debian's ``docker-compose`` 1.29) checks it too, with and without its required settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.containers import composes

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


def test_docker_compose_accepts_it_and_names_a_missing_setting(tmp_path: Path) -> None:
    found = composes()
    if not found:
        pytest.skip("neither the docker compose plugin nor docker-compose is installed")
    checkout = tmp_path / "checkout"  # as a user's, after `pip wheel -w wheels .` (1.29 wants the build folder)
    (checkout / "wheels").mkdir(parents=True)
    shutil.copytree(ROOT / "dockerfiles", checkout / "dockerfiles")
    shutil.copy(COMPOSE, checkout / "compose.yaml")
    required = {"INBOX_HOME": str(tmp_path / "home"), "POSTGRES_PASSWORD": "secret"}
    base = {k: v for k, v in os.environ.items() if k not in required and not k.startswith("COMPOSE_")}
    for compose in found:
        command = [*compose, "-f", str(checkout / "compose.yaml"), "config", "--quiet"]
        checked = subprocess.run(command, capture_output=True, text=True, env={**base, **required}, cwd=tmp_path)
        assert checked.returncode == 0, (compose, checked.stderr)
        for missing in required:
            env = {**base, **{k: v for k, v in required.items() if k != missing}}
            refused = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
            assert refused.returncode != 0, (compose, missing)
            assert f"set {missing}" in refused.stderr, (compose, refused.stderr)
