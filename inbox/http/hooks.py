"""``POST /v1/hooks/NAME``: a webhook call (docs/hooks.md). Authenticated by the hook's own secret, not by API
tokens: an admin token is refused here like any other wrong secret.

The body is read in chunks and the read stops once it passes :data:`inbox.hooks.MAX_BODY` (413); a
``Content-Length`` above it is refused before anything is read. A bearer secret is checked before the body is
read; a signature needs the body. Every refusal (401, 413, 422) happens before anything is written, and a missing
or wrong secret and an unknown hook get the same 401, so a caller cannot learn which hooks exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from inbox import emitting, hooks
from inbox.api import Inbox
from inbox.http.errors import ErrorBody, error_responses
from inbox.http.public import wake_host
from inbox.store.trigger_tables import Hook
from inbox.trigger_views import HookAccepted

router = APIRouter(prefix="/v1", tags=["hooks"])

_REFUSED = "unknown hook, or a missing or wrong secret"
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    "parameters": [
        {
            "name": "Authorization",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Bearer SECRET (the hook's secret), or sign the body instead.",
        },
        {
            "name": "X-Inbox-Signature",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "sha256=HEX: HMAC-SHA256 of the raw body under the hook's secret.",
        },
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "A second call with this key within 24 h writes nothing and answers the first.",
        },
    ],
}


def _refuse() -> HTTPException:
    return HTTPException(401, _REFUSED, headers={"WWW-Authenticate": "Bearer"})


def _caller(request: Request) -> hooks.Caller:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    return hooks.Caller(bearer=bearer, signature=request.headers.get("x-inbox-signature") or None)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > hooks.MAX_BODY:
        raise HTTPException(413, f"the body is larger than {hooks.MAX_BODY // 1024} KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > hooks.MAX_BODY:
            raise HTTPException(413, f"the body is larger than {hooks.MAX_BODY // 1024} KiB")
    return bytes(body)


@router.post(
    "/hooks/{name}",
    status_code=202,
    response_model=HookAccepted,
    responses={
        401: {"model": ErrorBody, "description": "Unknown hook, or a missing or wrong secret."},
        **error_responses(413, 422),
    },
    openapi_extra=_BODY_DOC,
)
async def call_hook(name: Annotated[str, Path(description="The hook's name.")], request: Request) -> HookAccepted:
    """Call a webhook: emits the event `hook.NAME` with the body as its data (JSON when sent as JSON, else the
    text); a `--message` hook also drops the body into its session as a chat message. Answers the event's id."""
    inbox: Inbox = request.app.state.host.inbox
    caller = _caller(request)
    if caller.bearer is None and caller.signature is None:
        raise _refuse()
    hook: Hook | None = await run_in_threadpool(hooks.find, inbox.engine, name)
    if caller.bearer is not None and not hooks.bearer_ok(hook, caller.bearer):
        raise _refuse()
    body = await _read_body(request)
    if caller.bearer is None and not hooks.signature_ok(hook, caller.signature or "", body):
        raise _refuse()
    assert hook is not None
    data, text = hooks.body_data(body, request.headers.get("content-type", ""))
    key = request.headers.get("idempotency-key")
    done = await run_in_threadpool(hooks.deliver, inbox.engine, hook, data, text, key=key, clock=inbox.clock)
    if not done.duplicate:
        if done.message_id is not None:  # its session is known: wake it before looking up the started tasks'
            wake_host(request, {done.session or "main"})
        if done.matched:
            wake_host(request, await run_in_threadpool(emitting.sessions_of, inbox.engine, done.matched))
    return done
