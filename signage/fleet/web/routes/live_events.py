"""Server-sent events: the live part of a page (the fleet's, with its filters, or a
screen's), diffed and paced by live.LiveFeed, for as long as the session lasts. A database
that goes away turns the page stale, and fresh again when it is back."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from signage.fleet import params, queries
from signage.fleet.auth import SESSION_COOKIE
from signage.fleet.database import UNAVAILABLE
from signage.fleet.live import LiveFeed, event
from signage.fleet.web.dashboard import Dashboard
from signage.fleet.web.deps import DashboardDep, SessionDep, current_session
from signage.fleet.web.present import fleet_filters, fleet_view, screen_live

REFRESH_SECONDS = 60.0  # a live page is re-rendered at least this often (today's counts change at midnight)

router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/events")
async def events(request: Request, dash: DashboardDep, session: SessionDep, view: str | None = None,
                 site: str | None = None, device: str | None = None, health: str | None = None,
                 page: str | None = None):
    screen = (site or "", device or "") if params.choice("view", view, ["fleet", "screen"], "fleet") == "screen" \
        else None
    filters = fleet_filters(site, health, page)
    return StreamingResponse(stream(request, dash, session.csrf, screen, filters), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def fragment(dash: Dashboard, csrf: str, screen: tuple[str, str] | None,
             filters: dict) -> tuple[dict[str, str], str] | None:
    """(parts, whole) of a page's live fragment: a screen's, or the fleet's with these
    filters; None for a screen that is gone."""
    if screen:
        context = screen_live(dash.reader, *screen)
        if context is None:
            return None
        module = dash.pages.fragment("_screen_live.html", context | {"csrf": csrf})
        parts = {"facts": module.facts(), "commands": module.sent(), "controls": module.controls()}
    else:
        context = fleet_view(dash.reader, filters, dash.settings.identities)
        module = dash.pages.fragment("_fleet_live.html", context)
        parts = {"summary": module.summary()} | {f"screen {r.site}/{r.device}": module.row(r)
                                                 for r in context["rows"]}
    return {name: str(html) for name, html in parts.items()}, str(module)


async def stream(request: Request, dash: Dashboard, csrf: str, screen: tuple[str, str] | None,
                 filters: dict) -> AsyncIterator[str]:
    token = request.cookies.get(SESSION_COOKIE)
    feed, loop = LiveFeed(dash.settings.live_seconds), asyncio.get_running_loop()
    seen, refreshed, stale = object(), -float("inf"), False
    while not dash.settings.stopping.is_set() and not await request.is_disconnected():
        if not dash.sessions.alive(token):  # logged out or expired: the page goes to the login
            yield event("end", "/login")
            return
        if feed.wait() == 0:
            try:
                marker = await run_in_threadpool(queries.last_update, dash.reader)
                if marker != seen or loop.time() - refreshed >= REFRESH_SECONDS:
                    found = await run_in_threadpool(fragment, dash, csrf, screen, filters)
                    if found is None:
                        yield event("end", "/")
                        return
                    seen, refreshed = marker, loop.time()
                    update = feed.update(*found)
                    if update:
                        yield update
                if stale:
                    yield event("fresh", "")
                    stale = False
            except UNAVAILABLE as exc:
                dash.database_unavailable(exc)
                if not stale:
                    yield event("stale", "the database is unavailable; this page updates again once it is back")
                    stale = True
        await asyncio.sleep(max(feed.wait(), dash.settings.live_seconds))
