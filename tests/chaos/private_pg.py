"""A PostgreSQL server of the test's own, to stop and start at will: ``initdb`` into a temp folder, one port.

The shared server other tests use must never be restarted under them, so the fault scenarios that take the
database away start their own. It runs as the ``postgres`` user when this process is root (the server refuses to
run as root), listens on 127.0.0.1 and a unix socket in its own folder, and trusts local connections.

:func:`missing` says why no such server can be started here (no binaries, no ``postgres`` user), for a skip.
:func:`postgres_schema` is what an ordinary chaos run uses instead: a schema of its own on the shared server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine, text

from inbox.config import normalize_url

BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_S = 60


def _bin_dir() -> Path | None:
    found = sorted(glob.glob(BIN_GLOB), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(found):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def _run_as() -> str | None:
    """The user the server runs as: ``postgres`` when this process is root, else the current user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return ""
    return "postgres"


def missing() -> str | None:
    """Why a private server cannot be started here, or None."""
    if _bin_dir() is None:
        return f"no PostgreSQL server binaries (initdb, pg_ctl) under {BIN_GLOB} or on PATH"
    if _run_as() == "":
        return "running as root, and there is no postgres user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """One server in ``folder`` (data in ``folder/data``, socket and log beside it)."""

    def __init__(self, folder: Path) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None, missing()
        self.bin = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = _free_port()
        self.user = _run_as()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=START_TIMEOUT_S, cwd=self.folder)

    def init(self) -> None:
        if self.user:
            shutil.chown(self.folder, self.user)
        self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are ended and the server shuts down cleanly; ``immediate``: as if it crashed
        (the next start recovers from its WAL)."""
        self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def wait_ready(self) -> None:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private server, stopped and removed afterwards (also when the block fails)."""
    folder = Path(tempfile.mkdtemp(prefix="inbox-pg-"))
    server = PrivatePostgres(folder)
    try:
        server.init()
        server.start()
        server.wait_ready()
        yield server
    finally:
        if server.running():
            with suppress(subprocess.SubprocessError):
                server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_schema(base_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty schema in the database at ``base_url``, dropped afterwards unless ``keep``; yields its URL."""
    base = normalize_url(base_url)
    schema = f"chaos_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
