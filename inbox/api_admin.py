"""The Python API's tokens, hooks and audit trail (``Inbox.create_token``, ``create_hook``, ``audit``, ...), kept
apart from inbox.api so each stays short; :class:`inbox.api.Inbox` has them all. Each change is recorded in the
audit trail (docs/audit.md) in its own transaction, as made by the inbox's ``actor``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from inbox import audit, hooks, paging
from inbox import validation as check
from inbox.enums import AuditAction, TokenScope
from inbox.paging import Page
from inbox.store import audit as audit_store
from inbox.store import tokens as token_store
from inbox.store.engine import read_transaction, transaction
from inbox.trigger_views import HookInfo, NewHook
from inbox.views import NewToken, TokenInfo, token_view


class AdminMethods:
    engine: Engine
    actor: str
    clock: Callable[[], datetime]

    # -- webhooks (docs/hooks.md) ------------------------------------------------------------------------
    def create_hook(self, name: str, *, session: str | None = None, message: bool = False) -> NewHook:
        """A new hook; its secret is in the answer (and kept in the store: HMAC checks need it)."""
        return hooks.create(self.engine, name, session=session, message=message, now=self.clock(), actor=self.actor)

    def hooks(self) -> list[HookInfo]:
        return hooks.listed(self.engine)

    def delete_hook(self, name: str) -> HookInfo:
        return hooks.delete(self.engine, name, now=self.clock(), actor=self.actor)

    # -- tokens of the HTTP API (the store keeps their digests only) ---------------------------------------
    def create_token(self, name: str, *, scope: str | TokenScope = TokenScope.ADMIN) -> NewToken:
        """A new token (``scope``: read, send or admin); its value is in the answer and nowhere else."""
        check.token_name(name)
        allowed = check.choice(TokenScope, scope, field="scope") or TokenScope.ADMIN
        with transaction(self.engine) as db:
            now = self.clock()
            row, token = token_store.create(db, name, now=now, created_by=self.actor, scope=allowed)
            made = {"id": row.id, "scope": str(allowed)}
            audit_store.record(db, actor=self.actor, action=AuditAction.TOKEN_CREATE, subject=name, now=now, after=made)
        return NewToken(**dict(token_view(row)), token=token)

    def tokens(self) -> list[TokenInfo]:
        with read_transaction(self.engine) as db:
            return [token_view(row) for row in token_store.listed(db)]

    def revoke_token(self, ident: str) -> TokenInfo:
        """Refused from the next request on, by every host on the store; by id or by name."""
        with transaction(self.engine) as db:
            now = self.clock()
            row = token_store.find(db, ident)
            before = {"revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
            token_store.revoke(db, ident, now=now)
            after = {"revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
            subject = row.name
            audit_store.record(
                db,
                actor=self.actor,
                action=AuditAction.TOKEN_REVOKE,
                subject=subject,
                now=now,
                before=before,
                after=after,
            )
            return token_view(row)

    # -- the audit trail (docs/audit.md) -------------------------------------------------------------------
    def audit_page(
        self,
        ident: str | None = None,
        *,
        limit: int | None = paging.DEFAULT_PAGE,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[audit.AuditEntry]:
        """The newest ``limit`` changes (to what ``ident`` names: a task or occurrence id or name, a token's,
        hook's, channel's or session's name; else every change; ``limit`` None: every one), after ``cursor``
        (the previous page's ``next_cursor``); with ``count``, how many older ones follow."""
        return audit.read(self.engine, ident, limit=limit, cursor=cursor, count=count)

    def audit(
        self, ident: str | None = None, *, limit: int | None = paging.DEFAULT_PAGE, cursor: str | None = None
    ) -> list[audit.AuditEntry]:
        """The changes alone, newest first; :meth:`audit_page` says where the next page starts."""
        return self.audit_page(ident, limit=limit, cursor=cursor).rows
