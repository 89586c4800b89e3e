"""Runner tokens: one per runner, scoped to its session and lease owner, issued by the host that started it.

They are kept (as digests) in the host's memory only: a runner stopped or replaced loses its token. A runner
speaking another protocol version than the host is refused (426) on every route.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import HTTPException, Request

from agent_runner.protocol import PROTOCOL_VERSION, VERSION_HEADER
from inbox.http.auth import bearer, is_api_token
from inbox.store.tokens import hash_token, new_token


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

    def live(self) -> int:
        """How many runners this host has going (each holds one token)."""
        with self._lock:
            return len({identity.owner for identity in self._by_digest.values()})

    def find(self, token: str) -> RunnerIdentity | None:
        with self._lock:
            return self._by_digest.get(hash_token(token))


def runner_identity(request: Request) -> RunnerIdentity:
    """FastAPI dependency of every runner route: the session and lease owner the token stands for."""
    runners: RunnerTokens = request.app.state.runner_tokens
    token = bearer(request)
    identity = runners.find(token)
    if identity is None:
        digest = hash_token(token)
        if is_api_token(request, digest):
            raise HTTPException(
                403, "an API token cannot act as a runner; the host gives each runner a token for its session"
            )
        raise HTTPException(401, "invalid or revoked runner token", headers={"WWW-Authenticate": "Bearer"})
    spoken = request.headers.get(VERSION_HEADER)
    if spoken != PROTOCOL_VERSION:
        raise HTTPException(
            426,
            f"this runner speaks protocol {spoken or 'unknown'}, the host {PROTOCOL_VERSION}: "
            "rebuild the runner image with `inbox runner build` after upgrading",
        )
    return identity
