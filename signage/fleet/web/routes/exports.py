"""Downloads: proof of play (one row per play, CSV or JSON) and the daily rollup (CSV)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from signage.fleet import params, queries
from signage.fleet.times import now_utc
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.present import daily_csv, play_rows, plays_csv

router = APIRouter(dependencies=[Depends(current_session)])


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/export/plays.csv")
def export_plays_csv(dash: DashboardDep, start: str | None = None, end: str | None = None, site: str | None = None,
                     creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    rows = play_rows(dash.reader, first, last, site, creative)
    return Response(plays_csv(rows), media_type="text/csv; charset=utf-8",
                    headers=attachment("proof-of-play.csv"))


@router.get("/export/plays.json")
def export_plays_json(dash: DashboardDep, start: str | None = None, end: str | None = None,
                      site: str | None = None, creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    return JSONResponse(play_rows(dash.reader, first, last, site, creative),
                        headers=attachment("proof-of-play.json"))


@router.get("/export/daily.csv")
def export_daily(dash: DashboardDep, start: str | None = None, end: str | None = None, site: str | None = None,
                 creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    rows = queries.daily_rollup(dash.reader, first, last, site=site or None, creative=creative or None)
    return Response(daily_csv(rows), media_type="text/csv; charset=utf-8",
                    headers=attachment("daily-rollup.csv"))
