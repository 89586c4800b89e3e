"""Signing in and out, and the task buttons: pause, resume, run now, cancel.

Every action is a form POST (it works without JavaScript; htmx sends the same form and swaps in the page the
answer redirects to). Each checks, in this order and before writing anything: the request came from this site,
the viewer is signed in, the CSRF token, and the token's scope (the task buttons need ``admin``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import Response

from inbox.api import Inbox
from inbox.enums import TokenScope
from inbox.web.access import (
    COOKIE,
    Refused,
    SignInNeeded,
    Viewer,
    check_csrf,
    host_inbox,
    local_path,
    require,
    same_origin,
    sign_in,
    sign_out,
    viewer,
)
from inbox.web.common import refusing, router
from inbox.web.render import here, is_htmx, page, redirect, refusal, secured

Seen = Annotated[Viewer, Depends(viewer)]
Csrf = Annotated[str | None, Form()]
Back = Annotated[str | None, Form()]


class TaskAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RUN = "run"
    CANCEL = "cancel"


_DO: dict[TaskAction, Callable[[Inbox, str], object]] = {
    TaskAction.PAUSE: Inbox.pause,
    TaskAction.RESUME: Inbox.resume,
    TaskAction.RUN: Inbox.run_now,
    TaskAction.CANCEL: Inbox.cancel,
}


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    return page(request, "signin.html", None, title="Sign in", next=local_path(next), error=None)


@router.post("/signin")
def signin(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str | None, Form()] = None
) -> Response:
    same_origin(request)
    started = sign_in(request, token)
    back = local_path(next)
    if started is None:
        error = "That is not an active API token (see `inbox token list`)."
        return page(request, "signin.html", None, code=401, title="Sign in", next=back, error=error)
    session_id, lifetime = started
    response = redirect(request, back)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=lifetime,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
def signout(request: Request, seen: Seen, csrf: Csrf = None) -> Response:
    same_origin(request)
    check_csrf(request, seen, csrf)
    sign_out(request)
    response = redirect(request, "/signin")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/tasks/{task_id}/{action}")
def task_action(
    request: Request, seen: Seen, task_id: str, action: str, csrf: Csrf = None, back: Back = None
) -> Response:
    same_origin(request)
    check_csrf(request, seen, csrf)
    try:
        chosen = TaskAction(action)
    except ValueError:
        raise Refused(404, f"no such action {action!r}: pause, resume, run or cancel") from None
    require(seen, TokenScope.ADMIN)
    with refusing():
        _DO[chosen](host_inbox(request).acting_as(seen.actor), task_id)
    return redirect(request, local_path(back))


def install_handlers(app: FastAPI) -> None:
    """Sign-in needed: to the sign-in page (htmx: a full navigation there). A refusal: said on the page."""

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _: SignInNeeded) -> Response:
        target = "/signin?next=" + quote(here(request) if request.method == "GET" else "/tasks", safe="")
        if is_htmx(request):
            return secured(Response(status_code=401, headers={"HX-Redirect": target}))
        return redirect(request, target)

    @app.exception_handler(Refused)
    async def _refused(request: Request, error: Refused) -> Response:
        return refusal(request, None, error.status, error.message)
