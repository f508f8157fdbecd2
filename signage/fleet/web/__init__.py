"""The dashboard's web pages (FastAPI, server-rendered Jinja2, live by server-sent events),
laid out like the FastAPI full-stack template: an APIRouter per area (routes/), the checks
every route shares as dependencies (deps.py), what the pages show shaped in present.py,
rendering in pages.py, and the answers that are not pages in handlers.py.

Every route needs a login except /login and /static; every state-changing request needs
the session's CSRF token and a same-origin Origin header when the browser sends one.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from signage.fleet.web.dashboard import Dashboard, WebSettings
from signage.fleet.web.deps import same_origin
from signage.fleet.web.handlers import add_handlers
from signage.fleet.web.headers import security_headers
from signage.fleet.web.pages import FLEET
from signage.fleet.web.routes import (alerts, api, availability, creatives, exports, fleet_page, live_events, login,
                                      quarantine, releases, retire_delete, screen_commands, screen_page)

__all__ = ["WebSettings", "create_app"]

ROUTERS = (login, fleet_page, quarantine, screen_page, screen_commands, retire_delete, creatives, exports,
           availability, alerts, live_events, api, releases)


def create_app(settings: WebSettings) -> FastAPI:
    app = FastAPI(title="signage fleet", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(same_origin)])
    app.mount("/static", StaticFiles(directory=FLEET / "static"), name="static")
    dashboard = Dashboard(settings)
    app.state.dashboard = dashboard
    app.state.writes = dashboard.writes  # its engine is closed by whoever made the app
    for area in ROUTERS:
        app.include_router(area.router)
    add_handlers(app)
    app.middleware("http")(security_headers)
    return app
