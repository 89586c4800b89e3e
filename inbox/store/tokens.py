"""API tokens in the store: made, looked up by digest, revoked. Only SHA-256 digests are ever written.

A token is 32 random bytes (URL-safe base64), so a plain SHA-256 is enough to keep it: nobody can guess a
token from its digest, and a digest is not itself accepted as a token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from inbox.enums import TokenScope
from inbox.errors import InvalidInput
from inbox.store.models import ApiToken

# ``last_used_at`` is written at most this often per token, so a busy client does not turn each read into a write.
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def active_named(db: Session, name: str) -> ApiToken | None:
    query = select(ApiToken).where(ApiToken.name == name, col(ApiToken.revoked_at).is_(None))
    return db.exec(query).first()


def by_digest(db: Session, digest: str) -> ApiToken | None:
    return db.exec(select(ApiToken).where(ApiToken.digest == digest)).first()


def create(
    db: Session,
    name: str,
    *,
    now: datetime,
    created_by: str,
    token: str | None = None,
    scope: TokenScope = TokenScope.ADMIN,
) -> tuple[ApiToken, str]:
    """A new active token named ``name`` (a fresh one unless ``token`` is given): its row and its value."""
    if active_named(db, name) is not None:
        raise InvalidInput("name", f"an active token is already named {name!r}; revoke it first or choose another")
    value = token or new_token()
    row = ApiToken(name=name, digest=hash_token(value), created_at=now, created_by=created_by, scope=scope)
    db.add(row)
    try:
        db.flush()
    except IntegrityError:  # another process made a token of that name in the meantime
        raise InvalidInput("name", f"an active token is already named {name!r}; choose another") from None
    return row, value


def active(db: Session, digest: str) -> ApiToken | None:
    return db.exec(select(ApiToken).where(ApiToken.digest == digest, col(ApiToken.revoked_at).is_(None))).first()


def use(db: Session, digest: str, *, now: datetime) -> ApiToken | None:
    """The active token with this digest, its use noted (at most once per ``TOUCH_EVERY``); None if none."""
    row = active(db, digest)
    if row is not None and needs_touch(row, now=now):
        touch(db, row.id, now=now)
    return row


def needs_touch(row: ApiToken, *, now: datetime) -> bool:
    return row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY


def touch(db: Session, token_id: str, *, now: datetime) -> None:
    """Note a use of the token; a no-op when another request noted one within ``TOUCH_EVERY``."""
    recent = col(ApiToken.last_used_at) > now - TOUCH_EVERY
    db.exec(
        update(ApiToken)
        .where(col(ApiToken.id) == token_id, ~recent | col(ApiToken.last_used_at).is_(None))
        .values(last_used_at=now)
    )


def listed(db: Session) -> list[ApiToken]:
    return list(db.exec(select(ApiToken).order_by(col(ApiToken.created_at), col(ApiToken.id))).all())


def count_active(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(ApiToken).where(col(ApiToken.revoked_at).is_(None))).one())


def find(db: Session, ident: str) -> ApiToken:
    """By id, else the active token of that name, else the newest revoked one of that name."""
    given = ident.strip()
    row = db.get(ApiToken, given.upper()) or active_named(db, given)
    if row is None:
        newest = select(ApiToken).where(ApiToken.name == given).order_by(col(ApiToken.revoked_at).desc())
        row = db.exec(newest).first()
    if row is None:
        raise InvalidInput("token", f"no token has the id or name {given!r} (see `inbox token list`)")
    return row


def revoke(db: Session, ident: str, *, now: datetime) -> ApiToken:
    """Revoke a token for good; revoking one twice is not an error and keeps the first time."""
    row = find(db, ident)
    if row.revoked_at is None:
        row.revoked_at = now
        db.add(row)
    return row
