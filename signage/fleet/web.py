"""The dashboard's web pages (FastAPI, server-rendered Jinja2, live by server-sent events).

Every route needs a login except /login and /static; every state-changing request needs
the session's CSRF token and a same-origin Origin header when the browser sends one.
No URL answers with a traceback: parameters are checked in one place (params.py, 400
with what is allowed), and a database that is down or busy is one handler (503, and
the pages work again by themselves once it is back).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy.exc
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from signage import __version__
from signage.fleet import charts, params, queries
from signage.fleet.auth import LOGIN_COOKIE, SESSION_COOKIE, LoginLimiter, Session, Sessions, same_token
from signage.fleet.outbox import CommandRefused, Outbox, Publisher
from signage.fleet.identities import Identities
from signage.fleet.ingest import RateLimitedLog
from signage.fleet.live import LiveFeed, event
from signage.fleet.operator import OperatorWrites
from signage.fleet.passwords import verify_password
from signage.fleet.store import Store, now_utc

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
REFRESH_SECONDS = 60.0  # a live page is re-rendered at least this often (today's counts change at midnight)
RETRY_SECONDS = 5  # what a 503 asks the browser to wait
# What a database that is down, restarting or locked raises (not a bug: a 503, no traceback).
UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)
CREATIVE_ORDERS = ["attention", "smiles", "plays", "viewers", "name"]


@dataclass
class WebSettings:
    store: Store
    login_hash: str
    root: str = "signage"
    publisher: Publisher | None = None
    secure_cookies: bool = False  # set behind an HTTPS proxy
    live_seconds: float = 2.0  # a live page looks for changes, and gets at most one event, this often
    retire_after_days: int | None = None  # the fleet page's default for retiring screens
    stopping: threading.Event = field(default_factory=threading.Event)  # ends the event streams
    identities: Identities | None = None  # provisioned devices and the quarantine (identities.py)


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""


def _ago(moment: datetime | None) -> Markup | str:
    """When, as a <time> that the page's script shows as "… ago" (fleet.js). Its text does
    not change with the clock, so the live stream sends a part only when its data change."""
    if moment is None:
        return "never"
    return Markup(f'<time class="ago" datetime="{moment:%Y-%m-%dT%H:%M:%S}Z">{moment:%Y-%m-%d %H:%M:%S}</time>')


def _since(moment: datetime | None) -> str:
    """Short: the time today, the date and time before."""
    if moment is None:
        return "–"
    return f"{moment:%H:%M}" if moment.date() == now_utc().date() else f"{moment:%b %d %H:%M}"


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def create_app(settings: WebSettings) -> FastAPI:
    app = FastAPI(title="signage fleet", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(ago=_ago, version=__version__, charts=charts,
                                 server_now=lambda: f"{now_utc():%Y-%m-%dT%H:%M:%S}Z")
    templates.env.filters["utc"] = lambda m: m.strftime("%Y-%m-%d %H:%M:%S") if m else "–"
    templates.env.filters["since"] = _since
    sessions, limiter = Sessions(), LoginLimiter()
    store, engine = settings.store, settings.store.reader
    writes = OperatorWrites(store.url)
    outbox = Outbox(settings.root, engine, writes, settings.publisher)
    unavailable_log = RateLimitedLog(log=logger)
    app.state.sessions, app.state.limiter, app.state.writes = sessions, limiter, writes

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        public = path == "/login" or path.startswith("/static/")
        origin = request.headers.get("origin")
        if request.method not in SAFE_METHODS and origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            return Response("cross-site request refused", status_code=403, media_type="text/plain")
        if not public:
            session = sessions.get(request.cookies.get(SESSION_COOKIE))
            if session is None:
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    return RedirectResponse("/login", status_code=303)
                return Response("login required", status_code=401, media_type="text/plain")
            request.state.session = session
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                    "frame-ancestors 'none'; form-action 'self'")
        if not public:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def session_of(request: Request) -> Session:
        return request.state.session

    def check_csrf(request: Request, token: str | None) -> None:
        token = token or request.headers.get("x-csrf-token")
        if not same_token(token, session_of(request).csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        flashes = []
        if session is not None:
            flashes, session.flashes = session.flashes, []
        if "sites" not in context:
            context["sites"] = queries.sites(engine) if session else []
        context |= {"csrf": session.csrf if session else "", "flashes": flashes}
        return templates.TemplateResponse(request, name, context, status_code=status)

    def refused(request: Request, status: int, title: str, message: str, headers: dict | None = None) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            response = render(request, "message.html", status=status, title=title, message=message, sites=[])
        else:
            response = Response(message, status_code=status, media_type="text/plain")
        response.headers.update(headers or {})
        return response

    def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=settings.secure_cookies, path="/")

    # ----- login ---------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request):
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", login_token=token, message=None)
        set_cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    @app.post("/login")
    def login(request: Request, password: str = Form(""), login_token: str = Form("")):
        # The address uvicorn saw, or the one a configured proxy forwarded (cli/fleet.py).
        client = request.client.host if request.client else "?"
        if not same_token(login_token, request.cookies.get(LOGIN_COOKIE)):
            return render(request, "login.html", status=403, login_token="",
                          message="The login form expired or came from another site: reload the page.")
        wait = limiter.begin(client)
        if wait > 0:
            return render(request, "login.html", status=429, login_token=login_token,
                          message=f"Too many failed attempts from your address: try again in {int(wait) + 1} s.")
        if not verify_password(password, settings.login_hash):
            logger.warning("failed dashboard login from %s", client)
            return render(request, "login.html", status=401, login_token=login_token, message="Wrong password.")
        limiter.succeeded(client)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, SESSION_COOKIE, sessions.create())
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        check_csrf(request, csrf)
        sessions.drop(request.cookies.get(SESSION_COOKIE))  # its live pages end at their next look
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ----- fleet ---------------------------------------------------------------------------

    def fleet_filters(site: str | None, health: str | None, page: str | None) -> dict:
        return {"site": site or None, "health": params.choice("health", health, list(queries.SEVERITY), "") or None,
                "page": params.page(page)}

    def fleet_context(filters: dict) -> dict:
        found = queries.fleet(engine, **filters)
        return {"fleet": found, "rows": found.rows, "site": filters["site"] or "", "health": filters["health"] or "",
                "counts": queries.counter_values(engine), "identities": settings.identities}

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(request: Request):
        """Identities the fleet never provisioned that published under its root."""
        return render(request, "quarantine.html", identities=settings.identities)

    @app.get("/", response_class=HTMLResponse)
    def fleet_page(request: Request, site: str | None = None, health: str | None = None, page: str | None = None):
        return render(request, "fleet.html", **fleet_context(fleet_filters(site, health, page)),
                      retire_after_days=settings.retire_after_days)

    @app.get("/api/screens")
    def api_screens(site: str | None = None, health: str | None = None, page: str | None = None):
        found = fleet_context(fleet_filters(site, health, page))["fleet"]
        rows = [asdict(r) for r in found.rows]
        return JSONResponse(json.loads(json.dumps(rows, default=_iso)),
                            headers={"X-Total-Count": str(found.total), "X-Page": f"{found.page}/{found.pages}"})

    @app.get("/retire", response_class=HTMLResponse)
    def retire_form(request: Request, days: str | None = None):
        n = params.retire_days(days or str(settings.retire_after_days or 30))
        return render(request, "retire.html", days=n, count=queries.unseen(engine, n))

    @app.post("/retire")
    def retire(request: Request, days: str = Form(""), csrf: str = Form("")):
        check_csrf(request, csrf)
        n = params.retire_days(days)
        retired = writes.retire(n)
        session_of(request).flashes.append(("ok", f"Retired {retired} screens not seen for {n} days; "
                                                  "their reports stay."))
        return RedirectResponse("/", status_code=303)

    # ----- live parts ----------------------------------------------------------------------

    def live_fragment(csrf: str, screen: tuple[str, str] | None, filters: dict) -> tuple[dict[str, str], str] | None:
        """(parts, whole) of a page's live fragment: a screen's, or the fleet's with these
        filters; None for a screen that is gone."""
        if screen:
            context = screen_live_context(*screen)
            if context is None:
                return None
            module = templates.get_template("_screen_live.html").make_module(context | {"csrf": csrf})
            parts = {"facts": module.facts(), "commands": module.sent(), "controls": module.controls()}
        else:
            context = fleet_context(filters)
            module = templates.get_template("_fleet_live.html").make_module(context)
            parts = {"summary": module.summary()} | {f"screen {r.site}/{r.device}": module.row(r)
                                                     for r in context["rows"]}
        return {name: str(html) for name, html in parts.items()}, str(module)

    @app.get("/events")
    async def events(request: Request, view: str | None = None, site: str | None = None, device: str | None = None,
                     health: str | None = None, page: str | None = None):
        """Server-sent events: the live part of a page (live.py), for as long as the session lasts."""
        screen = (site or "", device or "") if params.choice("view", view, ["fleet", "screen"], "fleet") == "screen" \
            else None
        filters = fleet_filters(site, health, page)
        csrf, token = session_of(request).csrf, request.cookies.get(SESSION_COOKIE)

        async def stream():
            feed, loop = LiveFeed(settings.live_seconds), asyncio.get_running_loop()
            seen, refreshed, stale = object(), -float("inf"), False
            while not settings.stopping.is_set() and not await request.is_disconnected():
                if not sessions.alive(token):  # logged out or expired: the page goes to the login
                    yield event("end", "/login")
                    return
                if feed.wait() == 0:
                    try:
                        marker = await run_in_threadpool(queries.last_update, engine)
                        if marker != seen or loop.time() - refreshed >= REFRESH_SECONDS:
                            fragment = await run_in_threadpool(live_fragment, csrf, screen, filters)
                            if fragment is None:
                                yield event("end", "/")
                                return
                            seen, refreshed = marker, loop.time()
                            update = feed.update(*fragment)
                            if update:
                                yield update
                        if stale:
                            yield event("fresh", "")
                            stale = False
                    except UNAVAILABLE as exc:
                        database_unavailable(exc)
                        if not stale:
                            yield event("stale", "the database is unavailable; this page updates again once "
                                                 "it is back")
                            stale = True
                await asyncio.sleep(max(feed.wait(), settings.live_seconds))

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ----- screen --------------------------------------------------------------------------

    def screen_live_context(site: str, device: str) -> dict | None:
        info = queries.screen(engine, site, device)
        if info is None:
            return None
        return {"s": info, "site": site, "device": device, "commands": queries.recent_commands(engine, site, device)}

    @app.get("/screen/{site}/{device}", response_class=HTMLResponse)
    def screen_page(request: Request, site: str, device: str, day: str | None = None, span: str | None = None):
        today = now_utc().date()
        first, last, span = params.screen_days(day, span, today)
        live = screen_live_context(site, device)
        if live is None:
            return render(request, "message.html", status=404, title="Unknown screen",
                          message=f"No message was ever received from {site}/{device}, or it was retired or deleted.")
        hours = queries.hours(engine, site, device, first, last)
        if span == "week":  # a week reads better by day
            by_day = {}
            for h in hours:
                entry = by_day.setdefault(h["hour"].date(), {"passers": 0, "viewers": 0, "looking_seconds": 0.0})
                for key in entry:
                    entry[key] += h[key]
            labels = [f"{d:%a %d}" for d in by_day]
            series = list(by_day.values())
            every = 1
        else:
            labels = [f"{h['hour']:%H}" for h in hours]
            series, every = hours, 2
        start, end = _day_start(first), _day_start(last + timedelta(days=1))
        day_plays = queries.plays_between(engine, start, end, site=site, device=device, limit=50000)
        unit = "hour" if span != "week" else "day"
        chart_list = [
            charts.bars([r["passers"] for r in series], labels, f"Passers per {unit}", label_every=every),
            charts.bars([r["viewers"] for r in series], labels, f"Viewers per {unit}", fill="#2e9d52",
                        label_every=every),
            charts.bars([r["looking_seconds"] for r in series], labels, f"Attention (person-seconds) per {unit}",
                        unit=" s", fill="#e0a21b", label_every=every)]
        expressions = queries.hour_expressions(engine, site, device, first, last)
        unbroken = sum(h["viewers_unbroken"] for h in hours)
        earlier, later = first - timedelta(days=1), last + timedelta(days=1 if span == "day" else 7)
        return render(request, "screen.html", **live, day=last, first=first, span=span, charts_=chart_list,
                      mix=charts.mix(expressions, "Expression mix of viewers"), expressions=expressions,
                      unbroken=unbroken, viewers=sum(h["viewers"] for h in hours),
                      withheld=sum(h["withheld_intervals"] for h in hours),
                      viewers_withheld=sum(h["viewers_withheld_intervals"] for h in hours),
                      intervals=sum(h["intervals"] for h in hours),
                      timeline=charts.timeline(day_plays, start, end, "Plays (UTC)", width=720) if span == "day"
                      else None, plays=day_plays[-20:], history=queries.history(engine, site, device),
                      prev=earlier if earlier >= params.EARLIEST else None,
                      next=later if later <= params.latest(today) else None)

    @app.post("/screen/{site}/{device}/command")
    def command(request: Request, site: str, device: str, feature: str = Form(""), value: str = Form(""),
                csrf: str = Form("")):
        check_csrf(request, csrf)
        try:
            sent = outbox.send(site, device, feature, value)
        except CommandRefused as exc:
            logger.info("command refused: %s/%s %s=%r: %s", site[:64], device[:64], feature[:40], value[:64], exc)
            if queries.screen(engine, site, device) is None:
                return render(request, "message.html", status=400, title="Command refused", message=str(exc))
            session_of(request).flashes.append(("error", f"Command refused: {exc}"))
            return RedirectResponse(f"/screen/{site}/{device}", status_code=303)
        session_of(request).flashes.append(("ok", f"Sent {feature} {sent} to {site}/{device}; "
                                                   "waiting for the screen to answer."))
        return RedirectResponse(f"/screen/{site}/{device}", status_code=303)

    @app.get("/screen/{site}/{device}/delete", response_class=HTMLResponse)
    def delete_form(request: Request, site: str, device: str):
        if queries.screen(engine, site, device) is None:
            return render(request, "message.html", status=404, title="Unknown screen",
                          message=f"There is no screen {site}/{device} to delete.")
        return render(request, "delete.html", site=site, device=device, reported=queries.reported(engine, site, device))

    @app.post("/screen/{site}/{device}/delete")
    def delete(request: Request, site: str, device: str, confirm: str = Form(""), csrf: str = Form("")):
        check_csrf(request, csrf)
        if confirm.strip() != f"{site}/{device}":
            session_of(request).flashes.append(("error", f"Not deleted: type {site}/{device} to confirm."))
            return RedirectResponse(f"/screen/{site}/{device}/delete", status_code=303)
        deleted = writes.delete(site, device)
        session_of(request).flashes.append(("ok", f"Deleted {site}/{device} and everything it reported."
                                            if deleted else f"{site}/{device} was already gone."))
        return RedirectResponse("/", status_code=303)

    # ----- creatives and exports -------------------------------------------------------------

    def report_query(span: str | None, end: str | None, order: str | None) -> tuple[date, date, str]:
        first, last = params.period(end, span, now_utc().date())
        return first, last, params.choice("order", order, CREATIVE_ORDERS, "attention")

    @app.get("/creatives", response_class=HTMLResponse)
    def creatives_page(request: Request, span: str | None = None, end: str | None = None, site: str | None = None,
                       device: str | None = None, order: str | None = None):
        first, last, order = report_query(span, end, order)
        report = queries.creatives(engine, first, last, site=site or None, device=device or None, order=order)
        scale = max([r.attention_ci[1] if r.attention_ci else r.attention_mean for r in report], default=1)
        return render(request, "creatives.html", report=report, first=first, last=last, span=span or "week",
                      site=site or "", device=device or "", order=order, scale=scale)

    @app.get("/api/creatives")
    def api_creatives(span: str | None = None, end: str | None = None, site: str | None = None,
                      device: str | None = None, order: str | None = None):
        first, last, order = report_query(span, end, order)
        report = queries.creatives(engine, first, last, site=site or None, device=device or None, order=order)
        return {"start": first.isoformat(), "end": last.isoformat(), "creatives": [asdict(r) for r in report]}

    play_columns = ["id", "site", "device", "creative", "rule", "start", "end", "seconds", "ended", "peak_faces",
                    "mean_faces", "peak_viewers", "looking_seconds", "expressions"]

    def play_rows(start: str | None, end: str | None, site: str | None, creative: str | None) -> list[dict]:
        first, last = params.period(end, "week", now_utc().date(), start)
        rows = queries.plays_between(engine, _day_start(first), _day_start(last + timedelta(days=1)),
                                     site=site or None, creative=creative or None)
        out = []
        for row in rows:
            item = {k: row[k] for k in play_columns}
            item["start"], item["end"] = _iso(row["start"]), _iso(row["end"])
            item["expressions"] = json.loads(row["expressions"]) if row["expressions"] else "suppressed"
            out.append(item)
        return out

    @app.get("/export/plays.csv")
    def export_plays_csv(start: str | None = None, end: str | None = None, site: str | None = None,
                         creative: str | None = None):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(play_columns)
        for row in play_rows(start, end, site, creative):
            expressions = row["expressions"]
            row["expressions"] = expressions if isinstance(expressions, str) else json.dumps(expressions)
            writer.writerow([_cell(row[k]) for k in play_columns])
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="proof-of-play.csv"'})

    @app.get("/export/plays.json")
    def export_plays_json(start: str | None = None, end: str | None = None, site: str | None = None,
                          creative: str | None = None):
        return JSONResponse(play_rows(start, end, site, creative),
                            headers={"Content-Disposition": 'attachment; filename="proof-of-play.json"'})

    @app.get("/export/daily.csv")
    def export_daily(start: str | None = None, end: str | None = None, site: str | None = None,
                     creative: str | None = None):
        first, last = params.period(end, "week", now_utc().date(), start)
        rows = queries.daily_rollup(engine, first, last, site=site or None, creative=creative or None)
        columns = ["day", "site", "device", "creative", "plays", "seconds", "viewed_plays", "peak_viewers",
                   "looking_seconds", "suppressed_plays"]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c].isoformat() if c == "day" else row[c]) for c in columns])
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="daily-rollup.csv"'})

    # ----- answers that are not pages --------------------------------------------------------

    def database_unavailable(exc: Exception) -> str:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        unavailable_log.warning("fleet database unavailable: %s", reason)
        return reason

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return refused(request, exc.status_code, "Request refused", str(exc.detail))

    @app.exception_handler(params.BadParameter)
    async def bad_parameter(request: Request, exc: params.BadParameter):
        return refused(request, 400, "Request refused", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return refused(request, 400, "Request refused", problems[:500])

    async def unavailable(request: Request, exc: Exception):
        reason = database_unavailable(exc)
        return refused(request, 503, "Database unavailable",
                       f"The fleet database is unavailable or busy ({reason}). Nothing was changed or sent. "
                       "The pages work again by themselves once it is back: try again in a few seconds.",
                       headers={"Retry-After": str(RETRY_SECONDS)})

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)

    return app
