"""Bearer tokens: an admin token for the public ``/v1`` API, and one token per runner, scoped to its session.

Only SHA-256 digests are kept in memory or on disk; a token is compared by digest in constant time. The admin
token comes from ``INBOX_API_TOKEN`` or, when that is unset, from ``$INBOX_HOME/api-token`` (created on first
start with mode 0600, so anyone who can read the host's files as its user can call the API).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request

from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER

TOKEN_FILE = "api-token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def admin_token(home: Path, configured: str | None) -> str:
    """The admin token: the configured one, else the one in ``$INBOX_HOME/api-token`` (made if missing)."""
    if configured:
        return configured
    path = home / TOKEN_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    home.mkdir(parents=True, exist_ok=True)
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


@dataclass(frozen=True)
class RunnerIdentity:
    """Who a runner token speaks for: one session, and the lease owner name its claims carry."""

    session: str
    owner: str


class RunnerTokens:
    """The tokens of the runners this host started; a runner stopped or replaced loses its token."""

    def __init__(self) -> None:
        self._by_digest: dict[str, RunnerIdentity] = {}
        self._lock = threading.Lock()

    def issue(self, identity: RunnerIdentity) -> str:
        token = new_token()
        with self._lock:
            self._by_digest[hash_token(token)] = identity
        return token

    def revoke_owner(self, owner: str) -> None:
        with self._lock:
            for digest in [d for d, i in self._by_digest.items() if i.owner == owner]:
                del self._by_digest[digest]

    def find(self, token: str) -> RunnerIdentity | None:
        with self._lock:
            return self._by_digest.get(hash_token(token))


def check_admin(request: Request) -> None:
    """FastAPI dependency of every ``/v1`` route: the bearer token must be the admin token."""
    expected: str = request.app.state.admin_token_digest
    token = bearer(request)
    if hmac.compare_digest(hash_token(token), expected):
        return
    tokens: RunnerTokens = request.app.state.runner_tokens
    if tokens.find(token) is not None:
        raise HTTPException(403, "a runner token cannot use the public API; runners use /runner/v1 for their session")
    raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})


def runner_identity(request: Request) -> RunnerIdentity:
    """FastAPI dependency of every runner route: the session and lease owner the token stands for."""
    tokens: RunnerTokens = request.app.state.runner_tokens
    identity = tokens.find(bearer(request))
    if identity is None:
        raise HTTPException(401, "invalid or revoked runner token", headers={"WWW-Authenticate": "Bearer"})
    spoken = request.headers.get(VERSION_HEADER)
    if spoken != PROTOCOL_VERSION:
        raise HTTPException(
            426,
            f"this runner speaks protocol {spoken or 'unknown'}, the host {PROTOCOL_VERSION}: "
            "rebuild the runner image with `inbox runner build` after upgrading",
        )
    return identity
