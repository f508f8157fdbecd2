"""How the dashboard answers what is not a page. No URL answers with a traceback:

- a parameter a page cannot use: 400, what is wrong and what is allowed (params.py);
- a forged request: 403; no session: the login (a browser) or 401 (a script);
- a database that is down or busy: 503, and the pages work again by themselves once it
  is back;
- a URL or method no route has: like a route would answer first (a forged request
  refused, a login asked for), so nothing tells a stranger which URLs exist.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from signage.fleet import params
from signage.fleet.database import UNAVAILABLE
from signage.fleet.web.deps import CrossSite, LoginRequired, current_session, public, same_origin
from signage.fleet.web.pages import wants_html

RETRY_SECONDS = 5  # what a 503 asks the browser to wait


def add_handlers(app: FastAPI) -> None:
    # The decorator, called: add_exception_handler's type takes only handlers of Exception itself.
    app.exception_handler(CrossSite)(cross_site)
    app.exception_handler(LoginRequired)(login_required)
    app.exception_handler(HTTPException)(http_error)
    app.exception_handler(params.BadParameter)(bad_parameter)
    app.exception_handler(RequestValidationError)(invalid_request)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)


async def cross_site(request: Request, exc: CrossSite) -> Response:
    return Response("cross-site request refused", status_code=403, media_type="text/plain")


async def login_required(request: Request, exc: LoginRequired) -> Response:
    if request.method == "GET" and wants_html(request):
        return RedirectResponse("/login", status_code=303)
    return Response("login required", status_code=401, media_type="text/plain")


async def http_error(request: Request, exc: HTTPException) -> Response:
    if getattr(request.state, "session", None) is None:  # no route ran, so none of its checks did
        try:
            await same_origin(request)
            if not public(request.url.path):
                await current_session(request, request.app.state.dashboard)
        except CrossSite as refused:
            return await cross_site(request, refused)
        except LoginRequired as refused:
            return await login_required(request, refused)
    return request.app.state.dashboard.pages.refused(request, exc.status_code, "Request refused", str(exc.detail))


async def bad_parameter(request: Request, exc: params.BadParameter) -> Response:
    return request.app.state.dashboard.pages.refused(request, 400, "Request refused", str(exc))


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return request.app.state.dashboard.pages.refused(request, 400, "Request refused", problems[:500])


async def unavailable(request: Request, exc: Exception) -> Response:
    reason = request.app.state.dashboard.database_unavailable(exc)
    return request.app.state.dashboard.pages.refused(
        request, 503, "Database unavailable",
        f"The fleet database is unavailable or busy ({reason}). Nothing was changed or sent. "
        "The pages work again by themselves once it is back: try again in a few seconds.",
        headers={"Retry-After": str(RETRY_SECONDS)})
