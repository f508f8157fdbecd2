"""Reading the fleet database for the pages and exports. Reports read the rollups, never
the raw rows, except proof of play (one row per play) and the plays timeline of a day."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from signage.fleet.schema import (commands, counters, creative_day_expressions, creative_days,
                                  creative_site_day_expressions, creative_site_days, plays,
                                  screen_hour_expressions, screen_hours, screen_states, screens, status_history)
from signage.fleet.store import day_range, now_utc

# Order of the fleet page: what needs a person first.
SEVERITY = {"offline": 0, "problem": 1, "stopped": 2, "unknown": 3, "ok": 4}


@dataclass
class ScreenRow:
    site: str
    device: str
    availability: str | None
    availability_since: datetime | None
    last_seen: datetime | None
    playing: str | None
    privacy: bool | None
    camera: str | None
    display: str | None
    broker: str | None
    playlist: str | None
    spool_depth: int | None
    last_error: str | None
    version: str | None
    lock: str | None
    refusal: str | None
    refusal_at: datetime | None
    passers_today: int = 0
    viewers_today: int = 0
    plays_today: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def health(self) -> str:
        if self.availability == "offline":
            return "offline"
        if self.problems:
            return "problem"
        if self.availability == "stopped":
            return "stopped"
        return "ok" if self.availability == "online" else "unknown"


def _problems(row: dict) -> list[str]:
    found = []
    if row["camera"] not in (None, "ok", "off"):
        found.append(f"camera {row['camera']}")
    if row["display"] not in (None, "ok", "off", "starting"):
        found.append(f"display {row['display']}")
    if row["broker"] not in (None, "connected"):
        found.append(f"broker: {row['broker']}")
    if row["playlist"] not in (None, "ok"):
        found.append(f"playlist {row['playlist']}")
    if row["last_error"]:
        found.append(row["last_error"])
    if (row["spool_depth"] or 0) > 1000:
        found.append(f"spool {row['spool_depth']} messages behind")
    return found


def fleet(engine: sa.Engine, site: str | None = None, today: date | None = None) -> list[ScreenRow]:
    today = today or now_utc().date()
    start, end = day_range(today, today)
    counts = (sa.select(screen_hours.c.site, screen_hours.c.device, sa.func.sum(screen_hours.c.passers),
                        sa.func.sum(screen_hours.c.viewers), sa.func.sum(screen_hours.c.plays))
              .where(screen_hours.c.hour >= start, screen_hours.c.hour < end)
              .group_by(screen_hours.c.site, screen_hours.c.device))
    query = sa.select(screens).order_by(screens.c.site, screens.c.device)
    if site:
        query = query.where(screens.c.site == site)
        counts = counts.where(screen_hours.c.site == site)
    with engine.begin() as conn:
        today_counts = {(s, d): (p or 0, v or 0, n or 0) for s, d, p, v, n in conn.execute(counts)}
        rows = conn.execute(query).mappings().all()
    result = []
    for row in rows:
        fields = {k: row[k] for k in ScreenRow.__dataclass_fields__ if k in row}
        passers, viewers, n = today_counts.get((row["site"], row["device"]), (0, 0, 0))
        result.append(ScreenRow(**fields, passers_today=int(passers), viewers_today=int(viewers),
                                plays_today=int(n), problems=_problems(row)))
    result.sort(key=lambda r: (SEVERITY[r.health], r.site, r.device))
    return result


def builds(rows: list[ScreenRow]) -> dict[str, int]:
    """How many screens run each build ("0.1.0 · lock 3f2a9c1b0d4e"), most common first: more
    than one is a fleet installed from different locks."""
    found = Counter(f"{r.version} · lock {r.lock or 'unknown'}" for r in rows if r.version)
    return dict(found.most_common())


def sites(engine: sa.Engine) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(screens.c.site).distinct().order_by(screens.c.site)).scalars())


def screen(engine: sa.Engine, site: str, device: str) -> dict | None:
    with engine.begin() as conn:
        row = conn.execute(sa.select(screens).where(screens.c.site == site, screens.c.device == device)
                           ).mappings().first()
        if row is None:
            return None
        states = {r.feature: (r.value, r.at) for r in conn.execute(
            sa.select(screen_states).where(screen_states.c.site == site, screen_states.c.device == device))}
    return dict(row) | {"states": states, "problems": _problems(row)}


def known_creatives(engine: sa.Engine, site: str, device: str) -> list[str]:
    """Creatives this screen has played (the rollups keep them beyond the raw retention);
    not "audience", the name withheld audience plays are published under."""
    with engine.begin() as conn:
        return list(conn.execute(
            sa.select(creative_days.c.creative).where(creative_days.c.site == site, creative_days.c.device == device,
                                                      creative_days.c.creative != "audience")
            .distinct().order_by(creative_days.c.creative)).scalars())


def last_update(engine: sa.Engine) -> datetime | None:
    with engine.begin() as conn:
        return conn.execute(sa.select(sa.func.max(screens.c.updated_at))).scalar()


def hours(engine: sa.Engine, site: str, device: str, first: date, last: date) -> list[dict]:
    """One row per hour of [first, last], zeros where nothing was heard."""
    start, end = day_range(first, last)
    with engine.begin() as conn:
        found = {r["hour"]: dict(r) for r in conn.execute(
            sa.select(screen_hours).where(screen_hours.c.site == site, screen_hours.c.device == device,
                                          screen_hours.c.hour >= start, screen_hours.c.hour < end)).mappings()}
    out, moment = [], start
    while moment < end:
        out.append(found.get(moment, {"hour": moment, "passers": 0, "viewers": 0, "looking_seconds": 0.0,
                                      "plays": 0, "play_seconds": 0.0, "viewers_unbroken": 0, "intervals": 0,
                                      "withheld_intervals": 0, "viewers_withheld_intervals": 0}))
        moment += timedelta(hours=1)
    return out


def hour_expressions(engine: sa.Engine, site: str, device: str, first: date, last: date) -> dict[str, int]:
    start, end = day_range(first, last)
    t = screen_hour_expressions
    with engine.begin() as conn:
        return {e: int(n) for e, n in conn.execute(
            sa.select(t.c.expression, sa.func.sum(t.c.viewers)).where(
                t.c.site == site, t.c.device == device, t.c.hour >= start, t.c.hour < end)
            .group_by(t.c.expression).order_by(sa.func.sum(t.c.viewers).desc()))}


def plays_between(engine: sa.Engine, start: datetime, end: datetime, site: str | None = None,
                  device: str | None = None, creative: str | None = None, limit: int | None = None) -> list[dict]:
    query = sa.select(plays).where(plays.c.start >= start, plays.c.start < end).order_by(plays.c.start, plays.c.id)
    for column, value in ((plays.c.site, site), (plays.c.device, device), (plays.c.creative, creative)):
        if value:
            query = query.where(column == value)
    if limit:
        query = query.limit(limit)
    with engine.begin() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def history(engine: sa.Engine, site: str, device: str, limit: int = 50) -> list[dict]:
    with engine.begin() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(status_history).where(status_history.c.site == site, status_history.c.device == device)
            .order_by(status_history.c.at.desc(), status_history.c.row.desc()).limit(limit)).mappings()]


def recent_commands(engine: sa.Engine, site: str, device: str, limit: int = 10) -> list[dict]:
    """Commands sent from the page with what the device answered: its state echo, its
    refusal, or nothing yet."""
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.select(commands).where(commands.c.site == site, commands.c.device == device)
            .order_by(commands.c.sent_at.desc(), commands.c.row.desc()).limit(limit)).mappings()]
        answers = [dict(r) for r in conn.execute(
            sa.select(status_history).where(status_history.c.site == site, status_history.c.device == device,
                                            status_history.c.kind.in_(("state", "refused")))
            .order_by(status_history.c.at, status_history.c.row)).mappings()]
    for row in rows:
        row["outcome"] = "sent, no answer yet"
        for answer in answers:
            if answer["at"] < row["sent_at"]:
                continue
            if answer["kind"] == "refused" and f"/{row['feature']}/set" in answer["detail"]:
                row["outcome"] = "refused: " + answer["detail"].split(": ", 1)[-1]
                break
            if answer["kind"] == "state" and answer["detail"].startswith(f"{row['feature']} = "):
                row["outcome"] = "done: " + answer["detail"]
                break
    return rows


@dataclass
class CreativeReport:
    creative: str
    plays: int
    seconds: float
    viewed_plays: int
    viewers: int  # peak viewers summed over plays
    looking_seconds: float
    attention_mean: float  # looking person-seconds per play
    attention_ci: tuple[float, float] | None  # 95 % confidence interval of the mean
    expressions: dict[str, float]  # share of looking seconds, only from published breakdowns
    expressed_share: float  # part of the looking seconds the mix is drawn from
    suppressed_plays: int


def confidence_interval(n: int, total: float, squares: float) -> tuple[float, float] | None:
    """95 % CI of the mean from n, the sum and the sum of squares (normal approximation;
    Student's t for small n would be wider: we show nothing below 2 plays)."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = 1.96 * math.sqrt(variance / n)
    return (max(0.0, mean - half), mean + half)


def creatives(engine: sa.Engine, first: date, last: date, site: str | None = None, device: str | None = None,
              order: str = "attention") -> list[CreativeReport]:
    # Fleet-wide and per-site reports read the per-site rollups; only a screen filter
    # needs the per-screen ones.
    d, e = (creative_days, creative_day_expressions) if device else (creative_site_days,
                                                                     creative_site_day_expressions)
    totals = sa.select(d.c.creative, sa.func.sum(d.c.plays), sa.func.sum(d.c.seconds), sa.func.sum(d.c.viewed_plays),
                       sa.func.sum(d.c.peak_viewers), sa.func.sum(d.c.looking_seconds),
                       sa.func.sum(d.c.looking_squares), sa.func.sum(d.c.suppressed_plays),
                       sa.func.sum(d.c.expressed_seconds)).where(d.c.day >= first, d.c.day <= last)
    mix = sa.select(e.c.creative, e.c.expression, sa.func.sum(e.c.seconds)).where(e.c.day >= first, e.c.day <= last)
    if site:
        totals, mix = totals.where(d.c.site == site), mix.where(e.c.site == site)
    if device:
        totals, mix = totals.where(d.c.device == device), mix.where(e.c.device == device)
    totals, mix = totals.group_by(d.c.creative), mix.group_by(e.c.creative, e.c.expression)
    with engine.begin() as conn:
        rows = conn.execute(totals).all()
        mixes: dict[str, dict[str, float]] = {}
        for creative, expression, seconds in conn.execute(mix):
            mixes.setdefault(creative, {})[expression] = float(seconds or 0)
    report = []
    for creative, n, seconds, viewed, viewers, looking, squares, suppressed, expressed in rows:
        n, looking, expressed = int(n or 0), float(looking or 0), float(expressed or 0)
        measured = n - int(suppressed or 0)  # plays whose audience the kiosk published (>= min_group)
        breakdown = mixes.get(creative, {})
        total_mix = sum(breakdown.values())
        report.append(CreativeReport(
            creative=creative, plays=n, seconds=float(seconds or 0), viewed_plays=int(viewed or 0),
            viewers=int(viewers or 0), looking_seconds=looking,
            attention_mean=looking / measured if measured > 0 else 0.0,
            attention_ci=confidence_interval(measured, looking, float(squares or 0)),
            expressions={k: v / total_mix for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])}
            if total_mix > 0 else {},
            expressed_share=expressed / looking if looking > 0 else 0.0, suppressed_plays=int(suppressed or 0)))
    keys = {"attention": lambda r: -r.attention_mean, "plays": lambda r: -r.plays,
            "viewers": lambda r: -r.viewers, "smiles": lambda r: -r.expressions.get("happy", 0.0),
            "name": lambda r: r.creative}
    report.sort(key=lambda r: (keys.get(order, keys["attention"])(r), r.creative))
    return report


def daily_rollup(engine: sa.Engine, first: date, last: date, site: str | None = None,
                 creative: str | None = None) -> list[dict]:
    d = creative_days
    query = sa.select(d).where(d.c.day >= first, d.c.day <= last).order_by(d.c.day, d.c.site, d.c.device,
                                                                           d.c.creative)
    if site:
        query = query.where(d.c.site == site)
    if creative:
        query = query.where(d.c.creative == creative)
    with engine.begin() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def counter_values(engine: sa.Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {name: int(value) for name, value in conn.execute(sa.select(counters.c.name, counters.c.value))}


def play_expression_mix(row: dict) -> dict[str, float] | None:
    return json.loads(row["expressions"]) if row.get("expressions") else None
