"""JSON for scripts: the screens of a fleet page and the creatives report, behind the same
login as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from signage.fleet import queries
from signage.fleet.times import now_utc
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import creatives_json, fleet_filters, report_period, screens_json

router = APIRouter(prefix="/api", dependencies=[Depends(current_session)])


@router.get("/screens")
def api_screens(dash: DashboardDep, site: str | None = None, health: str | None = None, page: str | None = None):
    found = queries.fleet(dash.reader, **fleet_filters(site, health, page))
    return JSONResponse(screens_json(found),
                        headers={"X-Total-Count": str(found.total), "X-Page": f"{found.page}/{found.pages}"})


@router.get("/creatives")
def api_creatives(dash: DashboardDep, span: str | None = None, end: str | None = None, site: str | None = None,
                  device: str | None = None, order: str | None = None):
    first, last, order = report_period(span, end, order, now_utc().date())
    return creatives_json(dash.reader, first, last, site, device, order)
