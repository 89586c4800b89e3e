"""The host's HTTP application: the public ``/v1`` API (admin tokens) and the runner endpoints (runner tokens).

One FastAPI app serves both. The host binds it to a unix socket that its runners reach (mounted into their
containers), and with ``inbox serve --listen HOST:PORT`` also to TCP. Errors the API raises on purpose become
JSON bodies ``{"error": ..., "field": ...}``: 422 for invalid input (nothing written), 404, 409.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.api import Inbox
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.http.agent_limits import AgentLimits
from inbox.http.auth import RunnerTokens
from inbox.http.doorbells import Doorbells
from inbox.http.model_proxy import ModelProxy
from inbox.store.claims import BACKOFF, DEFAULT_LEASE
from inbox.store.tokens import hash_token


@dataclass
class HostState:
    """What the routes need from the host that serves them."""

    inbox: Inbox  # acts as "api": what the public API creates carries created_by="api"
    admin_token: str | None = None  # INBOX_API_TOKEN, accepted beside the store's tokens; None: the store's only
    runner_tokens: RunnerTokens = field(default_factory=RunnerTokens)
    doorbells: Doorbells = field(default_factory=Doorbells)
    model: ModelProxy | None = None  # None: model requests fail with "no model provider configured"
    lease: timedelta = DEFAULT_LEASE
    backoff: tuple[timedelta, ...] = BACKOFF
    agent_limits: AgentLimits = field(default_factory=AgentLimits)
    draining: threading.Event = field(default_factory=threading.Event)  # shutting down: hand out no new work
    extras: dict[str, Any] = field(default_factory=dict)


class ErrorBody(BaseModel):
    """What every refusal carries, whatever its status: ``{"error": "<field>: <reason>", "field": "<field>"}``."""

    error: str
    field: str | None = None


_MEANINGS = {
    401: "Missing, unknown or revoked bearer token.",
    403: "A runner's token on /v1, or an admin token on a runner's route.",
    404: "No task or message has this id (or name).",
    409: "The task's state does not allow this (e.g. it has ended); on a runner's route: the lease is lost.",
    422: "Invalid input; `field` names it. Nothing was written.",
    426: "The runner speaks another protocol version than the host.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these refusals, each with an :class:`ErrorBody`."""
    return {code: {"model": ErrorBody, "description": _MEANINGS[code]} for code in codes}


def token_first(check: Callable[[Request], object]) -> type[APIRoute]:
    """A route class that runs ``check`` (a token check) before the body is read, so a stranger's malformed JSON
    is answered 401, not 422 with a description of what the body should hold.

    FastAPI parses a JSON body before it runs any dependency; the routers' token dependencies stay (they are
    what the routes declare and what hands the route its identity); ``check_admin`` finds the request already
    checked, a runner's token is looked up again in memory.
    """

    class TokenFirst(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def checked(request: Request) -> Response:
                await run_in_threadpool(check, request)  # a check may ask the store: not on the event loop
                return await handler(request)

            return checked

    return TokenFirst


def _error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field_name is not None:
        body["field"] = field_name
    return JSONResponse(body, status_code=status)


def make_app(state: HostState, *, runner_routes: bool = True) -> FastAPI:
    from inbox.http.public import describe_validation_error
    from inbox.http.public import router as public_router

    app = FastAPI(title="inbox", version="1", summary="A scheduler for a personal AI assistant.")
    app.state.host = state
    app.state.admin_token_digest = hash_token(state.admin_token) if state.admin_token else None
    app.state.runner_tokens = state.runner_tokens

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, str(exc), exc.field)

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "There was an error parsing the body": bytes that are not UTF-8
            return _error(422, "body: is not valid JSON (it is not UTF-8 text)", "body")
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def _malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, field_name = describe_validation_error(exc.errors())
        return _error(422, message, field_name)

    app.include_router(public_router)
    if runner_routes:
        from inbox.http.agent_tools import router as tools_router
        from inbox.http.history_api import router as history_router
        from inbox.http.runner_api import router as runner_router

        runner_refusals = error_responses(401, 403, 422, 426)
        app.include_router(runner_router, responses=runner_refusals)
        app.include_router(tools_router, responses=runner_refusals)
        app.include_router(history_router, responses=runner_refusals)
    return app


def host_state(request: Request) -> HostState:
    state: HostState = request.app.state.host
    return state
