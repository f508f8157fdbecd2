"""Rendering: the pages' Jinja2 templates and their helpers, a page with what every page
shows (the sites for the filters, the session's CSRF token, its flashes, shown once), a
refusal as a page for a browser and as plain text for a script, and the live fragments."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from signage import __version__
from signage.fleet import charts, queries
from signage.fleet.times import now_utc

FLEET = Path(__file__).resolve().parents[1]  # templates/ and static/ are the fleet package's data


def ago(moment: datetime | None) -> Markup | str:
    """When, as a <time> that the page's script shows as "… ago" (fleet.js). Its text does
    not change with the clock, so the live stream sends a part only when its data change."""
    if moment is None:
        return "never"
    return Markup(f'<time class="ago" datetime="{moment:%Y-%m-%dT%H:%M:%S}Z">{moment:%Y-%m-%d %H:%M:%S}</time>')


def since(moment: datetime | None) -> str:
    """Short: the time today, the date and time before."""
    if moment is None:
        return "–"
    return f"{moment:%H:%M}" if moment.date() == now_utc().date() else f"{moment:%b %d %H:%M}"


def utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "–"


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


class Pages:
    def __init__(self, reader: sa.Engine):
        self.reader = reader
        self.templates = Jinja2Templates(directory=FLEET / "templates")
        self.templates.env.globals.update(ago=ago, version=__version__, charts=charts,
                                          server_now=lambda: f"{now_utc():%Y-%m-%dT%H:%M:%S}Z")
        self.templates.env.filters.update(utc=utc, since=since)

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        session = getattr(request.state, "session", None)  # set by deps.current_session
        flashes = []
        if session is not None:
            flashes, session.flashes = session.flashes, []
        if "sites" not in context:
            context["sites"] = queries.sites(self.reader) if session else []
        context |= {"csrf": session.csrf if session else "", "flashes": flashes}
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def refused(self, request: Request, status: int, title: str, message: str,
                headers: dict | None = None) -> Response:
        """A page for a browser, plain text for a script; it reads nothing from the database."""
        response: Response
        if wants_html(request):
            response = self.render(request, "message.html", status=status, title=title, message=message, sites=[])
        else:
            response = Response(message, status_code=status, media_type="text/plain")
        response.headers.update(headers or {})
        return response

    def fragment(self, template: str, context: dict):
        """A live fragment's template as a module: its macros render the parts, and
        str(module) the whole."""
        return self.templates.get_template(template).make_module(context)
