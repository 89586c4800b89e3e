"""How the HTTP API refuses: every refusal is a JSON body ``{"error": ..., "field": ...}``.

422 for invalid input (nothing written), 404, 409; the token checks run before a body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.task_fields import invalid_input


class ErrorBody(BaseModel):
    """What every refusal carries, whatever its status: ``{"error": "<field>: <reason>", "field": "<field>"}``."""

    error: str
    field: str | None = None


_MEANINGS = {
    401: "Missing, unknown or revoked bearer token.",
    403: "A token whose scope does not allow this, a runner's token on /v1, or an API token on a runner's route.",
    404: "No task or message has this id (or name).",
    413: "The body is larger than the limit (1 MiB); nothing was read beyond it.",
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
    what the routes declare and what hands the route its identity); ``check_token`` finds the request already
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


def install_error_handlers(app: FastAPI) -> None:
    """Turn the core's refusals and FastAPI's own into :class:`ErrorBody` answers."""

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _error(422, str(exc), exc.field)

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, f"{exc.field}: {exc}" if exc.field else str(exc), exc.field)

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


def describe_validation_error(errors: Sequence[Any]) -> tuple[str, str]:
    """The first of FastAPI's validation errors as (message, field): ``("cron: is required", "cron")``.

    A task body's own checks (:mod:`inbox.task_fields`) come back in the words the Python API and the CLI use.
    """
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    loc = [str(part) for part in first.get("loc", ())]
    if first.get("type", "") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "malformed")
        return f"body: is not valid JSON ({reason} at character {loc[-1] if len(loc) > 1 else 0})", "body"
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    raised = (first.get("ctx") or {}).get("error")
    if not loc and not isinstance(raised, InvalidInput) and first.get("type") not in ("missing", "extra_forbidden"):
        return "body: must be a JSON object, sent with Content-Type: application/json", "body"
    refusal = invalid_input([{**first, "loc": tuple(loc)}])
    return str(refusal), refusal.field
