"""The alerts page: open alerts, then their history, with how each notice was delivered."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from signage.fleet.alert_history import alerts_view
from signage.fleet.web.deps import DashboardDep, current_session

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, dash: DashboardDep, site: str | None = None):
    return dash.pages.render(request, "alerts.html", **alerts_view(dash.reader, site or None), site=site or "")
