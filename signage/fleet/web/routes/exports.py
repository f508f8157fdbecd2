"""Downloads: proof of play (one row per play, CSV or JSON) and the daily rollup per
creative per screen (CSV), streamed from the database a batch at a time, each filtered by
site, screen (device) and creative (unknown values: an empty file with its header)."""

from __future__ import annotations

from functools import partial
from typing import TypedDict

from fastapi import APIRouter, Depends

from signage.fleet import params, queries, streamed
from signage.fleet.times import day_range, now_utc
from signage.fleet.web.export_rows import daily_csv, plays_csv, plays_json
from signage.fleet.web.deps import DashboardDep, current_session
from signage.fleet.web.download import Download

router = APIRouter(dependencies=[Depends(current_session)])


class Filters(TypedDict):
    site: str | None
    device: str | None
    creative: str | None


def filters(site: str | None, device: str | None, creative: str | None) -> Filters:
    return {"site": site or None, "device": device or None, "creative": creative or None}


@router.get("/export/plays.csv")
def export_plays_csv(dash: DashboardDep, start: str | None = None, end: str | None = None, site: str | None = None,
                     device: str | None = None, creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    rows = streamed.StreamedRows(dash.reader, queries.plays_select(*day_range(first, last),
                                                                    **filters(site, device, creative)))
    return Download(plays_csv(rows), rows, "proof-of-play.csv")


@router.get("/export/plays.json")
def export_plays_json(dash: DashboardDep, start: str | None = None, end: str | None = None,
                      site: str | None = None, device: str | None = None, creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    rows = streamed.StreamedRows(dash.reader, queries.plays_select(*day_range(first, last),
                                                                    **filters(site, device, creative)))
    return Download(plays_json(rows, first.isoformat(), last.isoformat()), rows, "proof-of-play.json")


@router.get("/export/daily.csv")
def export_daily(dash: DashboardDep, start: str | None = None, end: str | None = None, site: str | None = None,
                 device: str | None = None, creative: str | None = None):
    first, last = params.period(end, "week", now_utc().date(), start)
    chosen = filters(site, device, creative)
    rows = streamed.StreamedRows(dash.reader, queries.daily_select(first, last, **chosen))
    released_on = partial(streamed.released, dash.reader, **chosen)
    return Download(daily_csv(rows, released_on), rows, "daily-rollup.csv")
