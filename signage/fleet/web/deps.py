"""The dependencies routes declare: the dashboard's shared parts, the same-origin check
(every route), the logged-in session (every route but the login's) and the CSRF check
(every form that changes something). A check that fails raises; handlers.py answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request

from signage.fleet.auth import SESSION_COOKIE, Session, same_token
from signage.fleet.web.dashboard import Dashboard

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CrossSite(Exception):
    """A state-changing request that another site's page sent."""


class LoginRequired(Exception):
    """No session, or one that ended."""


def public(path: str) -> bool:
    """What answers without a login: the login itself, the static files, and the content
    releases the kiosks fetch (signed, for public screens: routes/releases.py)."""
    return path == "/login" or path.startswith(("/static/", "/releases/"))


async def dashboard(request: Request) -> Dashboard:
    """What the routes share (made by create_app)."""
    return request.app.state.dashboard


DashboardDep = Annotated[Dashboard, Depends(dashboard)]


async def same_origin(request: Request) -> None:
    """Refuse a state-changing request whose browser says it comes from another origin."""
    origin = request.headers.get("origin")
    if request.method not in SAFE_METHODS and origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise CrossSite()


async def current_session(request: Request, dash: DashboardDep) -> Session:
    """The request's session (each use extends it), also kept on request.state for the
    pages (its CSRF token and flashes), refusals included."""
    session = dash.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired()
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(current_session)]


async def csrf_checked(request: Request, session: SessionDep, csrf: str = Form("")) -> Session:
    """The session, once the form (or the X-CSRF-Token header) carries its CSRF token."""
    if not same_token(csrf or request.headers.get("x-csrf-token"), session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return session


CsrfChecked = Annotated[Session, Depends(csrf_checked)]
