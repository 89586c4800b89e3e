"""Webhooks (docs/hooks.md): named hooks with a secret each; a call emits ``hook.NAME`` with its body as data.

The HTTP route (inbox.http.hooks) reads the body under :data:`MAX_BODY` and asks here whether the caller holds
the hook's secret; the checks compare in constant time, and an unknown hook is checked against a stand-in secret
so that it is refused the same way, in about the same time, as a wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from inbox import validation as check
from inbox.enums import AuditAction, Kind
from inbox.errors import InvalidInput
from inbox.event_names import MAX_DATA_BYTES, check_data, check_key
from inbox.store import audit, bulk, events
from inbox.store.engine import read_transaction, transaction
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Hook
from inbox.store.types import Clock
from inbox.trigger_views import HookAccepted, HookInfo, NewHook

MAX_BODY = MAX_DATA_BYTES  # 1 MiB, the most an event's data may be
SIGNATURE_PREFIX = "sha256="
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_STAND_IN = secrets.token_urlsafe(32)  # what an unknown hook's caller is checked against
_MESSAGES = MessageIn.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Caller:
    """What a request offers as proof: a bearer secret, an ``X-Inbox-Signature``, or neither."""

    bearer: str | None
    signature: str | None


def check_hook_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise InvalidInput("name", f"{value!r} must be 1-64 letters, digits, _ or - and start with a letter or digit")
    return value


def url_of(name: str) -> str:
    return f"/v1/hooks/{name}"


def info(hook: Hook) -> HookInfo:
    return HookInfo(
        name=hook.name,
        session=hook.session,
        message=hook.message,
        url=url_of(hook.name),
        created_at=hook.created_at,
        created_by=hook.created_by,
    )


def create(engine: Engine, name: str, *, session: str | None, message: bool, now: datetime, actor: str) -> NewHook:
    check_hook_name(name)
    if session is not None:
        check.session_name(session)
    secret = secrets.token_urlsafe(32)
    hook = Hook(name=name, secret=secret, session=session, message=message, created_at=now, created_by=actor)
    try:
        with transaction(engine) as db:
            if db.get(Hook, name) is not None:
                raise InvalidInput("name", f"a hook is already named {name!r}; delete it first or choose another")
            db.add(hook)
            made = info(hook)
            audit.record(db, actor=actor, action=AuditAction.HOOK_CREATE, subject=name, now=now, after=_fields(hook))
    except IntegrityError:  # made by another process in the meantime
        raise InvalidInput("name", f"a hook is already named {name!r}; choose another") from None
    return NewHook(**made.model_dump(), secret=secret)


def listed(engine: Engine) -> list[HookInfo]:
    with read_transaction(engine) as db:
        return [info(hook) for hook in db.exec(select(Hook).order_by(col(Hook.name))).all()]


def delete(engine: Engine, name: str, *, now: datetime, actor: str) -> HookInfo:
    with transaction(engine) as db:
        hook = db.get(Hook, name)
        if hook is None:
            raise InvalidInput("name", f"no hook is named {name!r} (see `inbox hook list`)")
        gone = info(hook)
        audit.record(db, actor=actor, action=AuditAction.HOOK_DELETE, subject=name, now=now, before=_fields(hook))
        db.delete(hook)
        return gone


def _fields(hook: Hook) -> dict[str, object]:
    """What the audit trail records of a hook (never its secret)."""
    return {"session": hook.session, "message": hook.message}


def find(engine: Engine, name: str) -> Hook | None:
    """The hook named ``name``, or None (an invalid name names no hook)."""
    if not _NAME.fullmatch(name):
        return None
    with read_transaction(engine) as db:
        hook = db.get(Hook, name)
        if hook is not None:
            db.expunge(hook)
        return hook


def bearer_ok(hook: Hook | None, token: str) -> bool:
    expected = hook.secret if hook is not None else _STAND_IN
    return hmac.compare_digest(token.encode(), expected.encode()) and hook is not None


def signature_ok(hook: Hook | None, signature: str, body: bytes) -> bool:
    """``sha256=HEX``: the HMAC-SHA256 of the raw body under the hook's secret (as GitHub signs its hooks)."""
    expected = hook.secret if hook is not None else _STAND_IN
    digest = hmac.new(expected.encode(), body, hashlib.sha256).hexdigest()
    given = signature.strip()
    if given[: len(SIGNATURE_PREFIX)].lower() == SIGNATURE_PREFIX:
        given = given[len(SIGNATURE_PREFIX) :]
    return hmac.compare_digest(given.lower().encode(), digest.encode()) and hook is not None


def body_data(body: bytes, content_type: str) -> tuple[Any, str]:
    """The event's data (the parsed JSON of a JSON body, else the text; an empty body is null) and the text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "is not UTF-8 text") from None
    if not text.strip():
        return None, text
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput("body", f"is not JSON: {exc}") from None
        return check_data(data, field="body"), text
    # A text body is already within MAX_BODY bytes; as a JSON string its quotes and escapes must not push it over.
    return check_data(text, field="body", limit=6 * MAX_BODY + 2), text


def deliver(engine: Engine, hook: Hook, data: Any, text: str, *, key: str | None, clock: Clock) -> HookAccepted:
    """Emit ``hook.NAME`` (and, for a ``--message`` hook, drop the body into its session), in one transaction.

    A repeated ``Idempotency-Key`` answers the first call and writes nothing, the message included."""
    check_key(key, field="Idempotency-Key")
    actor = f"hook:{hook.name}"
    if hook.message:
        check.text(text, field="body")
    with transaction(engine) as db:
        now = clock()  # the write lock is held (SQLite): see inbox.emitting.emit
        new = events.NewEvent(name=f"hook.{hook.name}", data=data, session=hook.session, key=key)
        done = events.emit(db, new, now=now, created_by=actor, clock=clock)
        message_id = None
        if hook.message and not done.duplicate:
            rows = bulk.message_rows(
                [text], session=hook.session or "main", kind=Kind.WEBHOOK, process_after=now, now=now, created_by=actor
            )
            bulk.insert_dicts(db, _MESSAGES, rows)
            db.info["wake"] = True  # sweepers on other hosts look now (PostgreSQL), as after any inbound write
            message_id = rows[0]["id"]
    started = [m.series_id for m in done.matches]
    return HookAccepted(
        id=done.event.id,
        name=done.event.name,
        matched=started,
        duplicate=done.duplicate,
        message_id=message_id,
        session=hook.session,
    )
