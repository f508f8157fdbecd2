"""A screen's page: its live facts and commands, and its day (by hour) or week (by day)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from signage.fleet import params
from signage.fleet.times import now_utc
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import screen_live, screen_report

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/screen/{site}/{device}", response_class=HTMLResponse)
def screen_page(request: Request, dash: DashboardDep, site: str, device: str, day: str | None = None,
                span: str | None = None):
    today = now_utc().date()
    first, last, span = params.screen_days(day, span, today)
    live = screen_live(dash.reader, site, device)
    if live is None:
        return dash.pages.render(request, "message.html", status=404, title="Unknown screen",
                                 message=f"No message was ever received from {site}/{device}, or it was retired "
                                         "or deleted.")
    return dash.pages.render(request, "screen.html", **live,
                             **screen_report(dash.reader, site, device, first, last, span, today))
