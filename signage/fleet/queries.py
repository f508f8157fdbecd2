"""Reading the fleet database for the pages and exports. Reports read the rollups, never
the raw rows, except proof of play (one row per play) and the plays timeline of a day."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from signage.fleet import forget
from signage.fleet.rollout import content_summary
from signage.fleet.tables import (counters, creative_day_expressions, creative_days,
                                  creative_site_day_expressions, creative_site_days, plays,
                                  screen_hour_expressions, screen_hours, screen_states, screens)
from signage.fleet.times import day_range, now_utc

# Order of the fleet page: what needs a person first.
SEVERITY = {"offline": 0, "problem": 1, "stopped": 2, "unknown": 3, "ok": 4}
HEALTH = {rank: name for name, rank in SEVERITY.items()}
PAGE_SIZE = 100  # screens on one fleet page
SITES_LISTED = 200  # sites offered in the filters (more: type the name)

# What each status field may say without being a problem (None: not reported yet). The
# one definition of a problem, for the text on the page (_problems) and for the order and
# counts the database computes (_has_problem). A screen that is not online is judged by
# its availability alone: its status is its last word (a clean stop says broker
# "stopped", and the status of a screen that died still says "connected").
FINE = {"camera": ("ok", "off"), "display": ("ok", "off", "starting"), "broker": ("connected",), "playlist": ("ok",)}
SPOOL_BEHIND = 1000


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
    content: str | None = None  # the rollout, as the page says it (content_summary)
    health: str = "unknown"
    # None when every interval of today withheld them (fewer than min_group: unknown, not 0)
    passers_today: int | None = 0
    viewers_today: int | None = 0
    plays_today: int = 0
    passers_withheld_today: int = 0  # intervals whose passers were withheld (not in passers_today)
    viewers_withheld_today: int = 0
    problems: list[str] = field(default_factory=list)
    link: str = "–"  # the broker link as it is now (see _link), never a dead screen's last word


def _link(row) -> str:
    """The screen's broker link now: what its status says while it is online; a screen
    that stopped or went offline has none, whatever its last status said."""
    if row["availability"] == "online":
        return row["broker"] or "–"
    return {"stopped": "stopped", "offline": "not connected"}.get(row["availability"] or "", "–")


def _problems(row) -> list[str]:
    """What is wrong with a screen, in words; for a screen that is not online, what its
    last status said was wrong (never its link: it has none)."""
    found = [f"{name} {row[name]}" if name != "broker" else f"broker: {row[name]}"
             for name, fine in FINE.items() if row[name] is not None and row[name] not in fine
             and (name != "broker" or row["availability"] == "online")]
    if row["last_error"]:
        found.append(row["last_error"])
    if (row["spool_depth"] or 0) > SPOOL_BEHIND:
        found.append(f"spool {row['spool_depth']} messages behind")
    return found


def _has_problem() -> sa.ColumnElement[bool]:
    c = screens.c
    return sa.or_(*[sa.and_(c[name].is_not(None), c[name].not_in(fine)) for name, fine in FINE.items()],
                  sa.and_(c.last_error.is_not(None), c.last_error != ""),
                  sa.func.coalesce(c.spool_depth, 0) > SPOOL_BEHIND)


def severity() -> sa.ColumnElement[int]:
    """SEVERITY of a screen, computed by the database (ScreenRow.health by name)."""
    c = screens.c
    online = c.availability == "online"
    return sa.case((c.availability == "offline", SEVERITY["offline"]),
                   (sa.and_(online, _has_problem()), SEVERITY["problem"]),
                   (c.availability == "stopped", SEVERITY["stopped"]), (online, SEVERITY["ok"]),
                   else_=SEVERITY["unknown"])


@dataclass
class FleetPage:
    rows: list[ScreenRow]  # this page's screens, problems first
    total: int  # screens matching the filters
    page: int
    pages: int
    summary: dict[str, int]  # screens per health, over the site filter (not the health filter)
    # screens per build ("0.1.0 · lock 3f2a9c1b0d4e"), most common first: more than one is a
    # fleet installed from different locks
    builds: dict[str, int]


def fleet(engine: sa.Engine, site: str | None = None, health: str | None = None, page: int = 1,
          per_page: int = PAGE_SIZE, today: date | None = None) -> FleetPage:
    """One page of the fleet, bounded however many screens there are: the database
    orders, counts and pages them."""
    today = today or now_utc().date()
    rank = severity().label("severity")
    where = [screens.c.site == site] if site else []
    shown = where + ([rank == SEVERITY[health]] if health else [])
    with engine.begin() as conn:
        summary = {name: 0 for name in SEVERITY}
        for value, n in conn.execute(sa.select(rank, sa.func.count()).where(*where).group_by(rank)):
            summary[HEALTH[value]] = n
        total = sum(n for name, n in summary.items() if not health or name == health)
        pages = max(1, -(-total // per_page))
        page = min(page, pages)
        found = conn.execute(sa.select(screens, rank).where(*shown).order_by(rank, screens.c.site, screens.c.device)
                             .limit(per_page).offset((page - 1) * per_page)).mappings().all()
        keys = [(r["site"], r["device"]) for r in found]
        start, end = day_range(today, today)
        counts = {}
        if keys:
            h = screen_hours.c
            counts = {(s, d): tuple(int(x or 0) for x in rest) for s, d, *rest in conn.execute(
                sa.select(h.site, h.device, sa.func.sum(h.passers), sa.func.sum(h.viewers), sa.func.sum(h.plays),
                          sa.func.sum(h.intervals), sa.func.sum(h.withheld_intervals),
                          sa.func.sum(h.viewers_withheld_intervals))
                .where(h.hour >= start, h.hour < end, sa.tuple_(h.site, h.device).in_(keys))
                .group_by(h.site, h.device))}
        found_builds = conn.execute(
            sa.select(screens.c.version, screens.c.lock, sa.func.count()).where(*where, screens.c.version.is_not(None))
            .group_by(screens.c.version, screens.c.lock).order_by(sa.func.count().desc())).all()
    rows = []
    for row in found:
        fields = {k: row[k] for k in ScreenRow.__dataclass_fields__ if k in row}
        fields["content"] = content_summary(row["content"])
        passers, viewers, n, intervals, withheld, viewers_withheld = counts.get((row["site"], row["device"]),
                                                                               (0,) * 6)
        rows.append(ScreenRow(**fields, health=HEALTH[row["severity"]],
                              passers_today=None if intervals and withheld == intervals else passers,
                              viewers_today=None if intervals and viewers_withheld == intervals else viewers,
                              plays_today=n, passers_withheld_today=withheld,
                              viewers_withheld_today=viewers_withheld, problems=_problems(row),
                              link=_link(row)))
    builds = {f"{version} · lock {lock or 'unknown'}": n for version, lock, n in found_builds}
    return FleetPage(rows, total, page, pages, summary, builds)


def sites(engine: sa.Engine, limit: int = SITES_LISTED) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(sa.select(screens.c.site).distinct().order_by(screens.c.site).limit(limit))
                    .scalars())


def screen(engine: sa.Engine, site: str, device: str) -> dict | None:
    with engine.begin() as conn:
        row = conn.execute(sa.select(screens, severity().label("severity"))
                           .where(screens.c.site == site, screens.c.device == device)).mappings().first()
        if row is None:
            return None
        states = {r.feature: (r.value, r.at) for r in conn.execute(
            sa.select(screen_states).where(screen_states.c.site == site, screen_states.c.device == device))}
    return dict(row) | {"states": states, "problems": _problems(row), "health": HEALTH[row["severity"]],
                        "content_summary": content_summary(row["content"]),
                        "link": _link(row),
                        "creatives": json.loads(row["creatives"]) if row["creatives"] else None}


def unseen(engine: sa.Engine, days: int) -> int:
    """How many screens retiring those not seen for `days` would retire."""
    with engine.begin() as conn:
        return forget.count_unseen(conn, now_utc() - timedelta(days=days))


def reported(engine: sa.Engine, site: str, device: str) -> forget.Reported:
    with engine.begin() as conn:
        return forget.reported(conn, site, device)


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


def plays_select(start: datetime, end: datetime, site: str | None = None, device: str | None = None,
                 creative: str | None = None) -> sa.Select:
    """Plays that started in [start, end), in order: what the timeline and proof of play read."""
    query = sa.select(plays).where(plays.c.start >= start, plays.c.start < end).order_by(plays.c.start, plays.c.id)
    for column, value in ((plays.c.site, site), (plays.c.device, device), (plays.c.creative, creative)):
        if value:
            query = query.where(column == value)
    return query


def plays_between(engine: sa.Engine, start: datetime, end: datetime, site: str | None = None,
                  device: str | None = None, creative: str | None = None, limit: int | None = None) -> list[dict]:
    query = plays_select(start, end, site, device, creative)
    if limit:
        query = query.limit(limit)
    with engine.begin() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


# Why a creative's audience is unknown (the page's and the API's words, docs/privacy.md).
FEW = "fewer than min_group people, or one above half"
RELEASED = ("released in aggregate: an audience rule chose, cut short or followed them for fewer than "
            "min_group people, or their hour had fewer than min_group passers")


@dataclass
class CreativeReport:
    creative: str
    plays: int  # including those released in aggregate
    seconds: float
    viewed_plays: int | None  # None: no play's audience was published (`withheld` says why), never 0
    viewers: int | None  # peak viewers summed over plays: no count of people (docs/glossary.md); likewise
    impressions: int | None  # per-play OTS summed over `ots_plays` plays; None: withheld for every play
    ots_plays: int
    viewed_impressions: int | None  # per-play viewers summed over `viewer_plays` plays; None: withheld
    viewer_plays: int
    looking_seconds: float | None  # None like viewed_plays
    attention_mean: float | None  # looking person-seconds per play whose audience was published; likewise
    attention_ci: tuple[float, float] | None  # 95 % confidence interval of the mean
    expressions: dict[str, float]  # share of looking seconds, only from published breakdowns
    expressed_share: float  # part of the looking seconds the mix is drawn from
    suppressed_plays: int  # plays whose expression mix was not published (docs/glossary.md)
    measured_plays: int  # plays whose looking was published: attention's denominator
    released_plays: int = 0  # plays released in aggregate (the kiosk's totals): no audience
    withheld_plays: int = 0  # plays whose audience the kiosk withheld (FEW)
    withheld: str = ""  # why the audience of the plays not measured is unknown; "" when all were
    mix_withheld: str = ""  # why the plays without an expression mix have none; "" when all have one


def _withheld(withheld_plays: int, released_plays: int) -> str:
    """Why those plays have no audience figure, in the page's words."""
    parts = [f"{withheld_plays} plays with {FEW}"] if withheld_plays else []
    if released_plays:
        parts.append(f"{released_plays} plays {RELEASED}")
    return "; ".join(parts)


def confidence_interval(n: int, total: float, squares: float) -> tuple[float, float] | None:
    """95 % CI of the mean from n, the sum and the sum of squares (normal approximation;
    Student's t for small n would be wider: we show nothing below 2 plays)."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = 1.96 * math.sqrt(variance / n)
    return (max(0.0, mean - half), mean + half)


def attention(measured: int, looking: float, squares: float) -> tuple[float | None, tuple[float, float] | None]:
    """(mean, 95 % CI) of looking person-seconds per play, over the `measured` plays that
    published their looking figures (the plays `looking` and `squares` were summed over,
    whether or not their expression mix was published); (None, None) when there is none
    (unknown, not 0). The creatives page and the daily export both ask here."""
    if measured <= 0:
        return None, None
    return looking / measured, confidence_interval(measured, looking, squares)


def creatives(engine: sa.Engine, first: date, last: date, site: str | None = None, device: str | None = None,
              order: str = "attention") -> list[CreativeReport]:
    # Fleet-wide and per-site reports read the per-site rollups; only a screen filter
    # needs the per-screen ones.
    d, e = (creative_days, creative_day_expressions) if device else (creative_site_days,
                                                                     creative_site_day_expressions)
    totals = sa.select(d.c.creative, sa.func.sum(d.c.plays), sa.func.sum(d.c.seconds), sa.func.sum(d.c.viewed_plays),
                       sa.func.sum(d.c.peak_viewers), sa.func.sum(d.c.looking_seconds),
                       sa.func.sum(d.c.looking_squares), sa.func.sum(d.c.suppressed_plays),
                       sa.func.sum(d.c.expressed_seconds), sa.func.sum(d.c.impressions), sa.func.sum(d.c.ots_plays),
                       sa.func.sum(d.c.viewed_impressions), sa.func.sum(d.c.viewer_plays),
                       sa.func.sum(d.c.measured_plays), sa.func.sum(d.c.released_plays)
                       ).where(d.c.day >= first, d.c.day <= last)
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
    for (creative, n, seconds, viewed, viewers, looking, squares, suppressed, expressed, impressions, ots_plays,
         viewed_impressions, viewer_plays, measured, released) in rows:
        n, looking, expressed = int(n or 0), float(looking or 0), float(expressed or 0)
        ots_plays, viewer_plays = int(ots_plays or 0), int(viewer_plays or 0)
        measured, released = int(measured or 0), int(released or 0)  # plays with published looking; released
        known = measured > 0  # else every audience figure is unknown: None, never 0
        mean, ci = attention(measured, looking, float(squares or 0))
        unmeasured = max(0, n - measured - released)  # plays whose audience the kiosk withheld
        breakdown = mixes.get(creative, {})
        total_mix = sum(breakdown.values())
        report.append(CreativeReport(
            creative=creative, plays=n, seconds=float(seconds or 0), viewed_plays=int(viewed or 0) if known else None,
            viewers=int(viewers or 0) if known else None, looking_seconds=looking if known else None,
            impressions=int(impressions or 0) if ots_plays else None, ots_plays=ots_plays,
            viewed_impressions=int(viewed_impressions or 0) if viewer_plays else None, viewer_plays=viewer_plays,
            attention_mean=mean, attention_ci=ci,
            expressions={k: v / total_mix for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])}
            if total_mix > 0 else {},
            expressed_share=expressed / looking if looking > 0 else 0.0, suppressed_plays=int(suppressed or 0),
            measured_plays=measured, released_plays=released, withheld_plays=unmeasured,
            withheld=_withheld(unmeasured, released),
            mix_withheld=_withheld(max(0, int(suppressed or 0) - released), released)))
    report.sort(key=lambda r: (*_rank(r, order), r.creative))
    return report


def _rank(r: CreativeReport, order: str) -> tuple[bool, float]:
    """A report row's place in `order`: an unknown figure ranks after every known one
    (marked withheld on the page), never as a 0 among them."""
    figure = {"attention": r.attention_mean, "plays": r.plays, "viewers": r.viewed_impressions,
              "impressions": r.impressions, "smiles": r.expressions.get("happy", 0.0) if r.expressions else None,
              "name": 0}.get(order, r.attention_mean)
    return figure is None, -(figure or 0)


def ranked(r: CreativeReport, order: str) -> bool:
    """Whether the row has the figure `order` ranks by (else it comes last, withheld)."""
    return not _rank(r, order)[0]


def daily_select(first: date, last: date, site: str | None = None, device: str | None = None,
                 creative: str | None = None) -> sa.Select:
    """The day rollup per creative per screen over [first, last], by day, site, device, creative."""
    d = creative_days
    query = sa.select(d).where(d.c.day >= first, d.c.day <= last).order_by(d.c.day, d.c.site, d.c.device,
                                                                           d.c.creative)
    for column, value in ((d.c.site, site), (d.c.device, device), (d.c.creative, creative)):
        if value:
            query = query.where(column == value)
    return query


def counter_values(engine: sa.Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {name: int(value) for name, value in conn.execute(sa.select(counters.c.name, counters.c.value))}


def play_expression_mix(row: dict) -> dict[str, float] | None:
    return json.loads(row["expressions"]) if row.get("expressions") else None
