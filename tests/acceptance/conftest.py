"""Running the installed ``inbox`` command the way a user does: a fresh ``INBOX_HOME`` per test.

Store-touching tests take the ``cli`` fixture, which follows the ``backend`` parametrization of tests/conftest.py:
on SQLite no ``INBOX_DATABASE_URL`` is given (the store is ``$INBOX_HOME/inbox.db``); on PostgreSQL the
test's own schema is passed as ``INBOX_DATABASE_URL``. Commands that must not touch a store use ``bare_cli``.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.receiver import Receiver, receiving
from tests.acceptance.served import Served, serving
from tests.acceptance.warm_cli import WarmCli

Result = subprocess.CompletedProcess[str]
TIMEOUT_S = 60
PARALLEL = max(2, min(4, os.cpu_count() or 2))  # subprocesses at once in run_many


# The commands' compiled modules, kept outside the tree: without them every command started compiles each module
# it loads anew (PYTHONDONTWRITEBYTECODE), a tenth of a second or more per start over hundreds of starts.
PYCACHE = Path(tempfile.gettempdir()) / f"inbox-tests-pycache-{os.getuid()}"


def _clean_environment() -> dict[str, str]:
    """The caller's environment without anything that would pick a zone, a store or a model for the command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_") and k != "TZ"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env | {"PYTHONPYCACHEPREFIX": str(PYCACHE)}


_WARM: list[WarmCli] = []  # this test process's warm inbox, made at the first command
_WARM_LOCK = threading.Lock()


def _warm_cli() -> WarmCli | None:
    """This test process's warm ``inbox`` (tests/acceptance/warm_cli.py), None when every command runs fresh."""
    if os.environ.get("INBOX_TEST_FRESH_CLI") == "1":
        return None
    with _WARM_LOCK:
        if not _WARM:
            _WARM.append(WarmCli(_clean_environment()))
            atexit.register(_WARM[0].close)
        return _WARM[0]


@dataclass
class Cli:
    home: Path
    backend: str  # "sqlite", "postgres", or "none" for commands that must not open a store
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None, env: Mapping[str, str | None] | None = None) -> Result:
        """``inbox ARGS``; ``env`` adds variables (a value of None removes one). Stdin is empty unless given."""
        environment = self._with(env)
        warm = _warm_cli()
        if warm is not None and warm.serves(args, environment):
            return warm.run(self.executable, args, environment, stdin, TIMEOUT_S)
        return self.fresh(args, environment, stdin)

    def fresh(self, args: Sequence[str], environment: Mapping[str, str], stdin: str | None) -> Result:
        """``inbox ARGS`` as a process of its own, started from nothing."""
        command = [self.executable, *args]
        if stdin is None:
            return subprocess.run(
                command, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT_S
            )
        return subprocess.run(command, env=environment, capture_output=True, text=True, input=stdin, timeout=TIMEOUT_S)

    def _with(self, env: Mapping[str, str | None] | None) -> dict[str, str]:
        environment = dict(self.env)
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return environment

    def ok(self, *args: str, **kwargs: Any) -> str:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, f"inbox {' '.join(args)} exited {result.returncode}: {result.stderr}"
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        out = self.ok(*args, **kwargs)
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            pytest.fail(f"inbox {' '.join(args)} did not print JSON:\n{out}")

    def run_many(
        self, commands: Sequence[Sequence[str]], envs: Sequence[Mapping[str, str | None]] | None = None
    ) -> list[Result]:
        """Independent commands at once, each with its own extra ``env`` (only once the store exists)."""
        extra = list(envs) if envs is not None else [{}] * len(commands)
        assert len(extra) == len(commands)
        with ThreadPoolExecutor(PARALLEL) as pool:  # fresh processes: really at the same time
            return list(pool.map(lambda args, env: self.fresh(args, self._with(env), None), commands, extra))

    @property
    def executable(self) -> str:
        found = shutil.which("inbox", path=self.env.get("PATH"))
        assert found, "the inbox command is not installed (pip install -e .)"
        return found

    @property
    def sqlite_file(self) -> Path:
        return self.home / "inbox.db"


@pytest.fixture
def cli(backend: str, store_url: str, tmp_path: Path) -> Cli:
    env = _clean_environment()
    env["INBOX_HOME"] = str(tmp_path)
    if backend == "postgres":
        env["INBOX_DATABASE_URL"] = store_url
    return Cli(home=tmp_path, backend=backend, env=env)


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    env = _clean_environment()
    env["INBOX_HOME"] = str(tmp_path)
    return Cli(home=tmp_path, backend="none", env=env)


@pytest.fixture
def served(backend: str, store_url: str, home: Path) -> Iterator[Served]:
    """Hosts on the backend under test, answering models through the fake provider."""
    with serving(home, store_url if backend == "postgres" else None) as hosts:
        yield hosts


@pytest.fixture
def served_sqlite(home: Path) -> Iterator[Served]:
    """Hosts on the embedded SQLite store only (for paths that do not differ by backend)."""
    with serving(home, None) as hosts:
        yield hosts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP server that records what it is sent (tests/acceptance/receiver.py)."""
    with receiving() as found:
        yield found
