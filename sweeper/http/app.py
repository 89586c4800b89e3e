"""The host's HTTP application: the public ``/v1`` API, ``/mcp`` and ``/metrics`` (API tokens), the web dashboard
at ``/`` (a session signed in with an API token), and the runner endpoints (runner tokens).

One FastAPI app serves them all. The host binds it to a unix socket that its runners reach (mounted into their
containers), and with ``inbox serve --listen HOST:PORT`` also to TCP. Without ``--listen`` the HTTP API is off: the
app has the runner endpoints and ``/healthz`` only, and the host does not load the rest. Refusals are JSON bodies
(:mod:`inbox.http.errors`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from inbox.http.errors import error_responses, install_error_handlers
from inbox.store.outage import STORE_ERRORS, describe_outage, is_outage
from inbox.store.tokens import hash_token
from sweeper.http.agent_tools import router as tools_router
from sweeper.http.history_api import router as history_router
from sweeper.http.runner_api import router as runner_router
from sweeper.http.start_gate import router as start_router
from sweeper.http.state import HostState

if TYPE_CHECKING:
    from inbox.mcp.mount import LazyMcp

log = logging.getLogger("inbox.host")
STORE_RETRY_AFTER_S = 1


def make_app(state: HostState, *, runner_routes: bool = True, public: bool = True) -> FastAPI:
    """The app; ``public``: with the routes people use (``/v1``, ``/mcp``, ``/metrics``, hooks, the dashboard)."""
    mcp: LazyMcp | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if mcp is None:
            yield
            return
        async with mcp.running():
            yield

    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, and the host serves nothing from
    # elsewhere. /openapi.json stays for any OpenAPI viewer or client generator.
    app = FastAPI(
        title="inbox",
        version="1",
        summary="A scheduler for a personal AI assistant.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.host = state
    app.state.admin_token_digest = hash_token(state.admin_token) if state.admin_token else None
    app.state.runner_tokens = state.runner_tokens

    install_error_handlers(app)

    async def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
        """The store cannot be used right now (restarting, disk full): 503, told once in the log, not a traceback
        per request; runners wait and ask again. Another error of these kinds is a mistake: a 500, as before."""
        if not is_outage(exc):
            raise exc
        if state.outage is not None:
            state.outage.failed(exc)
        else:
            log.warning("store unavailable: %s", describe_outage(state.inbox.engine, exc))
        body = {"error": f"store unavailable: {describe_outage(state.inbox.engine, exc)}"}
        return JSONResponse(body, status_code=503, headers={"retry-after": str(STORE_RETRY_AFTER_S)})

    for error in STORE_ERRORS:
        app.add_exception_handler(error, _store_unavailable)

    @app.get("/healthz", include_in_schema=False)
    def _healthz() -> dict[str, str]:
        """Liveness for load balancers and monitors: no token, nothing about the store's contents."""
        return {"status": "ok"}

    if public:
        mcp = _install_public(app, state)
    if runner_routes:
        runner_refusals = error_responses(401, 403, 422, 426)
        app.include_router(runner_router, responses=runner_refusals)
        app.include_router(start_router, responses=runner_refusals)
        app.include_router(tools_router, responses=runner_refusals)
        app.include_router(history_router, responses=runner_refusals)
    return app


def _install_public(app: FastAPI, state: HostState) -> LazyMcp:
    """Put the public routes on ``app``; returns the ``/mcp`` endpoint, whose transport the app's lifespan runs.
    Their modules are imported here, so that a host serving only its runners never loads them."""
    from inbox.http.auth import check_admin
    from inbox.http.hooks import router as hooks_router
    from inbox.http.limits import router as limits_router
    from inbox.http.metrics import router as metrics_router
    from inbox.http.public import router as public_router
    from inbox.http.sessions import router as sessions_router
    from inbox.mcp.mount import PATH as MCP_PATH
    from inbox.mcp.mount import LazyMcp
    from inbox.web import install as install_dashboard
    from sweeper.http.host_metrics import HostCollector

    # /mcp speaks MCP (JSON-RPC over streamable HTTP), not REST: it is left out of /openapi.json, and MCP clients
    # learn its tools from the endpoint itself (tools/list). Its transport runs in the app's lifespan, once the
    # first request has loaded the SDK (inbox.mcp.mount says why not before).
    mcp = LazyMcp(state.inbox, check_admin)
    app.state.host_collectors = [HostCollector(state)]
    app.include_router(public_router)
    app.include_router(limits_router)
    app.include_router(sessions_router)
    app.include_router(hooks_router)  # authenticated by each hook's own secret, not by API tokens
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp))
    app.include_router(metrics_router)
    install_dashboard(app)
    return mcp


__all__ = ["HostState", "make_app"]
