"""The dashboard's sign-in sessions in the store: made, found, ended. Only digests are written.

The browser holds a random session id (32 bytes) in its cookie; the store keeps its SHA-256 digest, the digest of
the API token it signed in with, and when it expires. Every host on the store shares them, like the tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from inbox.store.page_tables import WebSession
from inbox.store.tokens import hash_token, new_token


def start(db: Session, *, token_digest: str, now: datetime, expires_at: datetime) -> str:
    """A new session for the token with ``token_digest``; returns the session id for the cookie (kept nowhere)."""
    db.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))  # sweep the expired ones on the way
    session_id = new_token()
    db.add(WebSession(digest=hash_token(session_id), token_digest=token_digest, created_at=now, expires_at=expires_at))
    return session_id


def find(db: Session, session_id: str, *, now: datetime) -> WebSession | None:
    """The session this cookie value stands for, unless it has expired."""
    query = select(WebSession).where(WebSession.digest == hash_token(session_id), col(WebSession.expires_at) > now)
    return db.exec(query).first()


def end(db: Session, session_id: str) -> None:
    db.exec(delete(WebSession).where(col(WebSession.digest) == hash_token(session_id)))
