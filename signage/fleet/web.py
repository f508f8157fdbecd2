"""The dashboard's web pages (FastAPI, server-rendered Jinja2, live by server-sent events).

Every route needs a login except /login and /static; every state-changing request needs
the session's CSRF token and a same-origin Origin header when the browser sends one.
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

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from signage import __version__
from signage.fleet import charts, queries
from signage.fleet.auth import LOGIN_COOKIE, SESSION_COOKIE, LoginLimiter, Session, Sessions, same_token
from signage.fleet.commands import CommandRefused, Publisher, build
from signage.fleet.identities import Identities
from signage.fleet.passwords import verify_password
from signage.fleet.store import Store, now_utc

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PERIODS = {"day": 1, "week": 7, "month": 30}


@dataclass
class WebSettings:
    store: Store
    login_hash: str
    root: str = "signage"
    publisher: Publisher | None = None
    secure_cookies: bool = False  # set behind an HTTPS proxy
    poll_seconds: float = 1.0  # how often the live pages look for changes
    stopping: threading.Event = field(default_factory=threading.Event)  # ends the event streams
    identities: Identities | None = None  # provisioned devices and the quarantine (identities.py)


def _parse_day(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{text[:20]!r} is not a date: use YYYY-MM-DD") from None


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now_utc() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


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


def create_app(settings: WebSettings) -> FastAPI:
    app = FastAPI(title="signage fleet", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(ago=_ago, version=__version__, charts=charts)
    templates.env.filters["utc"] = lambda m: m.strftime("%Y-%m-%d %H:%M:%S") if m else "–"
    templates.env.filters["since"] = _since
    sessions, limiter = Sessions(), LoginLimiter()
    store, engine = settings.store, settings.store.reader
    app.state.sessions, app.state.limiter = sessions, limiter

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

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        flashes = []
        if session is not None:
            flashes, session.flashes = session.flashes, []
        context |= {"csrf": session.csrf if session else "", "flashes": flashes,
                    "sites": queries.sites(engine) if session else []}
        return templates.TemplateResponse(request, name, context, status_code=status)

    def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=settings.secure_cookies, path="/")

    # ----- login ---------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, message: str | None = None):
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", login_token=token, message=message)
        set_cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    @app.post("/login")
    def login(request: Request, password: str = Form(""), login_token: str = Form("")):
        client = request.client.host if request.client else "?"
        if not same_token(login_token, request.cookies.get(LOGIN_COOKIE)):
            return page(request, "login.html", status=403, login_token="",
                        message="The login form expired or came from another site: reload the page.")
        wait = limiter.wait_seconds(client)
        if wait > 0:
            return page(request, "login.html", status=429, login_token=login_token,
                        message=f"Too many failed attempts: try again in {int(wait) + 1} s.")
        if not verify_password(password, settings.login_hash):
            limiter.failed(client)
            logger.warning("failed dashboard login from %s", client)
            return page(request, "login.html", status=401, login_token=login_token, message="Wrong password.")
        limiter.succeeded(client)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, SESSION_COOKIE, sessions.create())
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        check_csrf(request, csrf)
        sessions.drop(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ----- fleet ---------------------------------------------------------------------------

    def fleet_context(site: str | None) -> dict:
        rows = queries.fleet(engine, site=site or None)
        counts = queries.counter_values(engine)
        return {"rows": rows, "site": site or "", "counts": counts,
                "summary": {h: sum(1 for r in rows if r.health == h) for h in queries.SEVERITY},
                "builds": queries.builds(rows), "identities": settings.identities}

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(request: Request):
        """Identities the fleet never provisioned that published under its root."""
        return page(request, "quarantine.html", identities=settings.identities)

    @app.get("/", response_class=HTMLResponse)
    def fleet_page(request: Request, site: str | None = None):
        return page(request, "fleet.html", **fleet_context(site))

    @app.get("/api/screens")
    def api_screens(site: str | None = None):
        rows = queries.fleet(engine, site=site or None)
        return JSONResponse(json.loads(json.dumps([asdict(r) | {"health": r.health} for r in rows], default=_iso)))

    def live_fragment(request: Request, view: str, site: str | None, device: str | None) -> str:
        if view == "screen" and site and device:
            context = screen_live_context(site, device)
            if context is None:
                return ""
            name = "_screen_live.html"
        else:
            context, name = fleet_context(site), "_fleet_live.html"
        context |= {"csrf": session_of(request).csrf}
        return templates.get_template(name).render(context)

    @app.get("/events")
    async def events(request: Request, view: str = "fleet", site: str | None = None, device: str | None = None):
        """Server-sent events: the live part of a page, re-rendered when the data change."""

        async def stream():
            seen, last_sent = None, 0.0
            loop = asyncio.get_running_loop()
            while not settings.stopping.is_set() and not await request.is_disconnected():
                marker = await run_in_threadpool(queries.last_update, engine)
                now = loop.time()
                if marker != seen or now - last_sent > 30:  # also refresh the "… ago" texts
                    html = await run_in_threadpool(live_fragment, request, view, site, device)
                    yield "event: live\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"
                    seen, last_sent = marker, now
                await asyncio.sleep(settings.poll_seconds)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ----- screen --------------------------------------------------------------------------

    def screen_live_context(site: str, device: str) -> dict | None:
        info = queries.screen(engine, site, device)
        if info is None:
            return None
        return {"s": info, "site": site, "device": device,
                "commands": queries.recent_commands(engine, site, device),
                "creatives": queries.known_creatives(engine, site, device)}

    @app.get("/screen/{site}/{device}", response_class=HTMLResponse)
    def screen_page(request: Request, site: str, device: str, day: str | None = None, span: str = "day"):
        live = screen_live_context(site, device)
        if live is None:
            return page(request, "message.html", status=404, title="Unknown screen",
                        message=f"No message was ever received from {site}/{device}.")
        last = _parse_day(day, now_utc().date())
        first = last - timedelta(days=6) if span == "week" else last
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
        start, end = datetime.combine(first, datetime.min.time()), datetime.combine(last + timedelta(days=1),
                                                                                      datetime.min.time())
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
        return page(request, "screen.html", **live, day=last, first=first, span=span, charts_=chart_list,
                    mix=charts.mix(expressions, "Expression mix of viewers"), expressions=expressions,
                    unbroken=unbroken, viewers=sum(h["viewers"] for h in hours),
                    withheld=sum(h["withheld_intervals"] for h in hours),
                    viewers_withheld=sum(h["viewers_withheld_intervals"] for h in hours),
                    intervals=sum(h["intervals"] for h in hours),
                    timeline=charts.timeline(day_plays, start, end, "Plays (UTC)", width=720) if span == "day"
                    else None, plays=day_plays[-20:], history=queries.history(engine, site, device),
                    prev=first - timedelta(days=1), next=last + timedelta(days=1 if span == "day" else 7))

    @app.post("/screen/{site}/{device}/command")
    def command(request: Request, site: str, device: str, feature: str = Form(""), value: str = Form(""),
                csrf: str = Form("")):
        check_csrf(request, csrf)
        info = queries.screen(engine, site, device)
        try:
            topic, payload = build(settings.root, site, device, feature, value, info is not None,
                                   queries.known_creatives(engine, site, device) if info else [])
            if settings.publisher is None:
                raise CommandRefused("this dashboard has no broker connection for commands")
            settings.publisher.publish(topic, payload)
        except CommandRefused as exc:
            logger.info("command refused: %s/%s %s=%r: %s", site[:64], device[:64], feature[:40], value[:64], exc)
            if info is None:
                return page(request, "message.html", status=400, title="Command refused", message=str(exc))
            session_of(request).flashes.append(("error", f"Command refused: {exc}"))
            return RedirectResponse(f"/screen/{site}/{device}", status_code=303)
        store.record_command(site, device, feature, payload.decode())
        session_of(request).flashes.append(("ok", f"Sent {feature} {payload.decode()} to {site}/{device}; "
                                                   "waiting for the screen to answer."))
        return RedirectResponse(f"/screen/{site}/{device}", status_code=303)

    # ----- creatives and exports -------------------------------------------------------------

    def period(end: str | None, span: str, start: str | None = None) -> tuple[date, date]:
        last = _parse_day(end, now_utc().date())
        first = _parse_day(start, last - timedelta(days=PERIODS.get(span, 7) - 1))
        if first > last:
            raise HTTPException(400, "start is after end")
        if (last - first).days > 400:
            raise HTTPException(400, "at most 400 days at once")
        return first, last

    @app.get("/creatives", response_class=HTMLResponse)
    def creatives_page(request: Request, span: str = "week", end: str | None = None, site: str | None = None,
                       device: str | None = None, order: str = "attention"):
        first, last = period(end, span)
        report = queries.creatives(engine, first, last, site=site or None, device=device or None, order=order)
        scale = max([r.attention_ci[1] if r.attention_ci else r.attention_mean for r in report], default=1)
        return page(request, "creatives.html", report=report, first=first, last=last, span=span, site=site or "",
                    device=device or "", order=order, scale=scale)

    @app.get("/api/creatives")
    def api_creatives(span: str = "week", end: str | None = None, site: str | None = None,
                      device: str | None = None, order: str = "attention"):
        first, last = period(end, span)
        report = queries.creatives(engine, first, last, site=site or None, device=device or None, order=order)
        return {"start": first.isoformat(), "end": last.isoformat(), "creatives": [asdict(r) for r in report]}

    play_columns = ["id", "site", "device", "creative", "rule", "start", "end", "seconds", "ended", "peak_faces",
                    "mean_faces", "peak_viewers", "looking_seconds", "expressions"]

    def play_rows(start: str | None, end: str | None, site: str | None, creative: str | None) -> list[dict]:
        first, last = period(end, "week", start)
        lo, hi = datetime.combine(first, datetime.min.time()), datetime.combine(last + timedelta(days=1),
                                                                                  datetime.min.time())
        rows = queries.plays_between(engine, lo, hi, site=site or None, creative=creative or None)
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
        first, last = period(end, "week", start)
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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if "text/html" in request.headers.get("accept", ""):
            return page(request, "message.html", status=exc.status_code, title="Request refused",
                        message=str(exc.detail))
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")

    return app
