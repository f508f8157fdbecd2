"""The fleet page: every screen, problems first, a page at a time."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import fleet_filters, fleet_view

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/", response_class=HTMLResponse)
def fleet_page(request: Request, dash: DashboardDep, site: str | None = None, health: str | None = None,
               page: str | None = None):
    view = fleet_view(dash.reader, fleet_filters(site, health, page), dash.settings.identities)
    return dash.pages.render(request, "fleet.html", **view, retire_after_days=dash.settings.retire_after_days)

