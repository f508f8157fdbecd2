"""The creatives report: attention, smiles, plays and viewers per creative over a period."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from signage.fleet.times import now_utc
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import creatives_view, report_period

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/creatives", response_class=HTMLResponse)
def creatives_page(request: Request, dash: DashboardDep, span: str | None = None, end: str | None = None,
                   site: str | None = None, device: str | None = None, order: str | None = None):
    first, last, order = report_period(span, end, order, now_utc().date())
    view = creatives_view(dash.reader, first, last, site, device, order)
    return dash.pages.render(request, "creatives.html", **view, first=first, last=last, span=span or "week",
                             site=site or "", device=device or "", order=order)
