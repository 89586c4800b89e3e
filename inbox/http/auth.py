"""Bearer tokens of the public ``/v1`` API and their scopes; runners' tokens are the host's (sweeper.http.runner_auth).

API tokens live in the store as SHA-256 digests (inbox.store.tokens), shared by every host on it: each ``/v1``
request looks its token up there, nothing is cached, so a revocation made by any process on any host refuses
the token from the next request on. Each has a scope (``read`` < ``send`` < ``admin``, :func:`needed_scope`).
``INBOX_API_TOKEN``, when set, is accepted too, as ``admin``; it is compared by digest and never written
anywhere. Runner tokens are issued by the host that started the runner and kept (as digests) in its memory only.

On start with neither ``INBOX_API_TOKEN`` nor an active token in the store, the host makes one (``default``) and
writes it to ``$INBOX_HOME/api-token`` (mode 0600) as the user's copy; the store keeps only its digest. A token
file written by an older version, before tokens lived in the store, is imported (its digest) on start.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from inbox.enums import TokenScope
from inbox.errors import InvalidInput
from inbox.store import tokens
from inbox.store.engine import read_transaction, transaction
from inbox.store.tokens import hash_token
from inbox.store.types import utcnow

TOKEN_FILE = "api-token"
DEFAULT_NAME = "default"


def _write_private(path: Path, token: str) -> None:
    """Replace ``path`` with ``token`` at once, readable by this user only (never briefly by anyone else)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes it 0600
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.replace(temporary, path)


def _read_token_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _prepare(engine: Engine, path: Path) -> str:
    with transaction(engine) as db:  # on SQLite this holds the write lock: hosts starting together take turns
        kept = _read_token_file(path)
        if kept is not None:
            row = tokens.by_digest(db, hash_token(kept))
            if row is None:  # written by a version that kept the token in this file only
                taken = tokens.active_named(db, DEFAULT_NAME) is not None
                name = f"{DEFAULT_NAME}-{hash_token(kept)[:8]}" if taken else DEFAULT_NAME
                tokens.create(db, name, now=utcnow(), created_by="api-token file", token=kept)
                return f"{path} (imported into the store as {name!r})"
            if row.revoked_at is None:
                return str(path)
        if tokens.count_active(db):
            return f"the store's tokens (`inbox token list`); {path} holds no active one"
        _, token = tokens.create(db, DEFAULT_NAME, now=utcnow(), created_by="host")
        _write_private(path, token)  # before the commit: a token nobody has a copy of is never made
        return f"{path} (new token {DEFAULT_NAME!r})"


def prepare_admin_tokens(engine: Engine, home: Path, configured: str | None) -> str:
    """Make sure some admin token can reach the API; says where the user finds one (for the start-up log)."""
    if configured:
        return "INBOX_API_TOKEN"
    try:
        return _prepare(engine, home / TOKEN_FILE)
    except (IntegrityError, InvalidInput):  # another host made the first token at the same moment: it stands
        return _prepare(engine, home / TOKEN_FILE)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return value.strip()


class KnownRunners(Protocol):
    """The host's runner tokens, as far as the public API needs them: to tell a runner's token apart."""

    def find(self, token: str) -> object | None: ...


@dataclass(frozen=True)
class Caller:
    """Who a request acts for: the API token's name (``INBOX_API_TOKEN`` for the configured one) and scope."""

    name: str
    scope: TokenScope

    @property
    def actor(self) -> str:
        """Who the store says made what this caller creates or changes through ``/v1`` (docs/audit.md)."""
        return f"token:{self.name}"


CONFIGURED_NAME = "INBOX_API_TOKEN"


def needed_scope(method: str, path: str) -> TokenScope:
    """The least scope a ``/v1`` request needs: a GET only looks; sending a message needs ``send``; anything else
    (changing, pausing, cancelling, running tasks) ``admin``. The one place this rule lives."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return TokenScope.READ
    if (method, path) in SEND_ROUTES:
        return TokenScope.SEND
    return TokenScope.ADMIN


# What a ``send`` token may do beyond reading: drop messages and emit events. (A webhook takes no API token at all:
# inbox.http.hooks checks the hook's own secret.)
SEND_ROUTES = frozenset({("POST", "/v1/messages"), ("POST", "/v1/events")})


def is_api_token(request: Request, digest: str) -> bool:
    """Whether ``digest`` is an API token's (configured or stored, any scope), without counting it as used."""
    return token_by_digest(request, digest, used=False) is not None


def _configured(request: Request, digest: str) -> bool:
    expected: str | None = request.app.state.admin_token_digest
    return expected is not None and hmac.compare_digest(digest, expected)


def token_by_digest(request: Request, digest: str, *, used: bool) -> Caller | None:
    """The caller an API token's digest stands for, or None (unknown or revoked).

    Stored tokens are looked up on every request (no cache), so a revocation anywhere counts at once. The look-up
    only reads (SQLite: no write lock, so a request is not held up by a long write); the use is noted in a write
    of its own, at most once a minute per token."""
    if _configured(request, digest):
        return Caller(CONFIGURED_NAME, TokenScope.ADMIN)
    engine = request.app.state.host.inbox.engine
    now = utcnow()
    with read_transaction(engine) as db:
        found = tokens.active(db, digest)
        stale = found is not None and tokens.needs_touch(found, now=now)
    if found is None:
        return None
    if used and stale:
        with transaction(engine) as db:
            tokens.touch(db, found.id, now=now)
    return Caller(found.name, TokenScope(found.scope))


def scope_words(needed: TokenScope) -> str:
    return "admin" if needed == TokenScope.ADMIN else f"{needed} or admin"


def refuse_scope(caller: Caller, needed: TokenScope) -> None:
    if not caller.scope.allows(needed):
        raise HTTPException(
            403, f"token {caller.name!r} has the {caller.scope} scope; this needs {scope_words(needed)}"
        )


def _known_caller(request: Request) -> Caller:
    """The caller the bearer token stands for: 401 for a stranger, 403 for a runner's token."""
    checked: Caller | None = getattr(request.state, "caller", None)
    if checked is not None:
        return checked
    token = bearer(request)
    caller = token_by_digest(request, hash_token(token), used=True)
    if caller is None:
        runners: KnownRunners = request.app.state.runner_tokens
        if runners.find(token) is not None:
            raise HTTPException(
                403, "a runner token cannot use the public API; runners use /runner/v1 for their session"
            )
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.caller = caller
    return caller


def check_token(request: Request) -> Caller:
    """FastAPI dependency of every ``/v1`` route: an active API token whose scope allows the request.

    Blocking (it asks the store): run it in a worker thread. A request is checked once; a second call is free.
    """
    caller = _known_caller(request)
    route = request.scope.get("route")
    refuse_scope(caller, needed_scope(request.method, getattr(route, "path", request.url.path)))
    return caller


def check_admin(request: Request) -> None:
    """The check of ``/mcp``: its tools schedule, change and cancel tasks, so only an ``admin`` token opens it."""
    refuse_scope(_known_caller(request), TokenScope.ADMIN)
