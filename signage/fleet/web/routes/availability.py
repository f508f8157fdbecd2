"""The daily availability report: a page (each screen over a period) and a streamed CSV
(each screen's days)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from signage.fleet import availability, params
from signage.fleet.times import now_utc
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import streamed_csv

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/availability", response_class=HTMLResponse)
def availability_page(request: Request, dash: DashboardDep, span: str | None = None, end: str | None = None,
                      site: str | None = None, device: str | None = None, page: str | None = None):
    first, last = params.period(end, span, now_utc().date())
    view = availability.page_of(dash.reader, first, last, site or None, device or None, params.page(page))
    return dash.pages.render(request, "availability.html", report=view, first=first, last=last,
                             span=span or "week", site=site or "", device=device or "")


@router.get("/export/availability.csv")
def export_availability(dash: DashboardDep, start: str | None = None, end: str | None = None,
                        site: str | None = None, device: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    rows = availability.report(dash.reader, first, last, site or None, device or None)
    return StreamingResponse(streamed_csv(availability.CSV_COLUMNS, map(availability.csv_row, rows)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="availability.csv"'})
