"""Logging in and out. The login form carries its own double-submit token (a cookie and a
field), wrong passwords back off per client (auth.LoginLimiter), and logging out ends the
session's live pages too."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from signage.fleet.auth import LOGIN_COOKIE, SESSION_COOKIE, same_token
from signage.fleet.passwords import verify_password
from signage.fleet.web.deps import CsrfChecked, DashboardDep

logger = logging.getLogger(__name__)

router = APIRouter()


def set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, dash: DashboardDep):
    token = secrets.token_urlsafe(24)
    response = dash.pages.render(request, "login.html", login_token=token, message=None)
    set_cookie(response, LOGIN_COOKIE, token, dash.settings.secure_cookies, max_age=3600)
    return response


@router.post("/login")
def login(request: Request, dash: DashboardDep, password: str = Form(""), login_token: str = Form("")):
    # The address uvicorn saw, or the one a configured proxy forwarded (cli/fleet.py).
    client = request.client.host if request.client else "?"
    if not same_token(login_token, request.cookies.get(LOGIN_COOKIE)):
        return dash.pages.render(request, "login.html", status=403, login_token="",
                                 message="The login form expired or came from another site: reload the page.")
    wait = dash.limiter.begin(client)
    if wait > 0:
        return dash.pages.render(request, "login.html", status=429, login_token=login_token,
                                 message=f"Too many failed attempts from your address: try again in {int(wait) + 1} s.")
    if not verify_password(password, dash.settings.login_hash):
        logger.warning("failed dashboard login from %s", client)
        return dash.pages.render(request, "login.html", status=401, login_token=login_token,
                                 message="Wrong password.")
    dash.limiter.succeeded(client)
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, SESSION_COOKIE, dash.sessions.create(), dash.settings.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, dash: DashboardDep, session: CsrfChecked):
    dash.sessions.drop(request.cookies.get(SESSION_COOKIE))  # its live pages end at their next look
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
