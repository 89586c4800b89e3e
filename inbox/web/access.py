"""Who is looking at the dashboard: signing in with an API token, the session cookie, CSRF, and scopes.

Signing in posts an API token; the host checks it as ``/v1`` does and starts a session: a random id in an
``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` over HTTPS), whose SHA-256 digest the store keeps with the
digest of the token (:mod:`inbox.store.web_sessions`). Each request finds the session and asks again whether its
token is accepted, so revoking the token ends every session made with it, on every host, at the next request;
signing out deletes the session. The page never holds the token itself.

Every state-changing request carries a CSRF token, in a form field or the ``X-CSRF-Token`` header (htmx sends it):
an HMAC of the session id, which a page of another site can neither read nor compute. The ``Origin`` header, when
the browser sends one, must be this host's. The token's scope decides what its viewer may do, as on ``/v1``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request

from inbox.api import Inbox
from inbox.enums import TokenScope
from inbox.errors import InvalidInput
from inbox.http.auth import Caller, scope_words, token_by_digest
from inbox.store import web_sessions
from inbox.store.engine import read_transaction, transaction
from inbox.store.tokens import hash_token
from inbox.store.types import utcnow
from inbox.web.words import UTC_ZONE, zone_named

COOKIE = "inbox_session"
ZONE_COOKIE = "inbox_tz"  # the browser's IANA zone, written by dashboard.js: times are shown in it
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInNeeded(Exception):
    """No session, an expired one, or one whose token is no longer accepted."""


class Refused(Exception):
    """An action the viewer may not take (403) or that cannot be done (404, 409, 422): said on the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    caller: Caller
    csrf: str
    zone: ZoneInfo

    @property
    def actor(self) -> str:
        """Who the store says made what this viewer creates."""
        return f"web:{self.caller.name}"

    def may(self, scope: TokenScope | str) -> bool:
        return self.caller.scope.allows(TokenScope(scope))


def host_inbox(request: Request) -> Inbox:
    inbox: Inbox = request.app.state.host.inbox
    return inbox


def csrf_of(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"inbox dashboard csrf", hashlib.sha256).hexdigest()


def viewer(request: Request) -> Viewer:
    """FastAPI dependency of every page and action: the signed-in viewer, or :class:`SignInNeeded`."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        raise SignInNeeded
    with read_transaction(host_inbox(request).engine) as db:
        found = web_sessions.find(db, session_id, now=utcnow())
    if found is None:
        raise SignInNeeded
    caller = token_by_digest(request, found.token_digest, used=True)
    if caller is None:  # the token was revoked (or INBOX_API_TOKEN changed): the session ends with it
        raise SignInNeeded
    return Viewer(caller=caller, csrf=csrf_of(session_id), zone=_zone(request))


def _zone(request: Request) -> ZoneInfo:
    try:
        fallback = host_inbox(request).zone()
    except InvalidInput:
        fallback = UTC_ZONE
    return zone_named(request.cookies.get(ZONE_COOKIE), fallback)


def same_origin(request: Request) -> None:
    """Refuse a request a browser says came from another site (its ``Origin`` header), before anything else."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refused(403, "this request came from another site; use the dashboard's own page")


def check_csrf(request: Request, seen: Viewer, submitted: str | None) -> None:
    given = submitted or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode(), seen.csrf.encode()):
        raise Refused(403, "the form's CSRF token is missing or wrong: reload the page and try again")


def require(seen: Viewer, scope: TokenScope) -> None:
    if not seen.may(scope):
        raise Refused(
            403,
            f"token {seen.caller.name!r} has the {seen.caller.scope} scope; this needs {scope_words(scope)}",
        )


def sign_in(request: Request, token: str) -> tuple[str, int] | None:
    """A new session for ``token`` if it is an accepted API token: (session id, lifetime in seconds)."""
    digest = hash_token(token.strip())
    if not token.strip() or token_by_digest(request, digest, used=True) is None:
        return None
    inbox = host_inbox(request)
    now = utcnow()
    lifetime = inbox.settings.web_session
    with transaction(inbox.engine) as db:
        session_id = web_sessions.start(db, token_digest=digest, now=now, expires_at=now + lifetime)
    return session_id, int(lifetime.total_seconds())


def sign_out(request: Request) -> None:
    session_id = request.cookies.get(COOKIE)
    if session_id:
        with transaction(host_inbox(request).engine) as db:
            web_sessions.end(db, session_id)


def local_path(value: str | None, default: str = "/tasks") -> str:
    """A path on this host to go back to after signing in or an action: never another site's address."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
