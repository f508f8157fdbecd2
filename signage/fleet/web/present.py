"""What the pages, exports and APIs show, shaped from the queries: the routes ask for a
view and render it; they do no sums, bucketing or formatting of their own."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import date, timedelta

import sqlalchemy as sa

from signage.fleet import charts, params, proof, queries, screen_log
from signage.fleet.identities import Identities
from signage.fleet.times import day_range, iso

CREATIVE_ORDERS = ["attention", "smiles", "plays", "impressions", "viewers", "name"]
TIMELINE_PLAYS = 50_000  # plays drawn on a day's timeline at most
RECENT_PLAYS = 20  # plays listed under it
RELEASED_LISTED = 100  # rows of proof of play released in aggregate on a screen's page


# ----- the fleet -----------------------------------------------------------------------------

def fleet_filters(site: str | None, health: str | None, page: str | None) -> dict:
    """The fleet page's filters, checked (params.py)."""
    return {"site": site or None, "health": params.choice("health", health, list(queries.SEVERITY), "") or None,
            "page": params.page(page)}


def fleet_view(reader: sa.Engine, filters: dict, identities: Identities | None) -> dict:
    found = queries.fleet(reader, **filters)
    return {"fleet": found, "rows": found.rows, "site": filters["site"] or "", "health": filters["health"] or "",
            "counts": queries.counter_values(reader), "identities": identities}


def screens_json(found: queries.FleetPage) -> list[dict]:
    """The screens of one fleet page, their times as ISO text."""
    return json.loads(json.dumps([asdict(r) for r in found.rows], default=iso))


# ----- a screen ------------------------------------------------------------------------------

def screen_live(reader: sa.Engine, site: str, device: str) -> dict | None:
    """What a screen's page shows live (its facts, commands and controls); None for a
    screen that is gone."""
    info = queries.screen(reader, site, device)
    if info is None:
        return None
    return {"s": info, "site": site, "device": device, "commands": screen_log.recent_commands(reader, site, device)}


def screen_report(reader: sa.Engine, site: str, device: str, first: date, last: date, span: str,
                  today: date) -> dict:
    """A screen's day (by hour) or week (by day): charts, totals, plays, history, and the
    neighbouring periods within the dates a page may ask for."""
    hours = queries.hours(reader, site, device, first, last)
    labels, series, every = _by_day(hours) if span == "week" else ([f"{h['hour']:%H}" for h in hours], hours, 2)
    unit = "day" if span == "week" else "hour"
    start, end = day_range(first, last)
    plays = queries.plays_between(reader, start, end, site=site, device=device, limit=TIMELINE_PLAYS)
    expressions = queries.hour_expressions(reader, site, device, first, last)
    earlier, later = first - timedelta(days=1), last + timedelta(days=1 if span == "day" else 7)

    def total(column: str):
        return sum(h[column] for h in hours)

    return {
        "day": last, "first": first, "span": span, "expressions": expressions,
        "charts_": [
            charts.bars([known(r, "passers", "withheld_intervals") for r in series], labels, f"Passers per {unit}",
                        label_every=every),
            charts.bars([known(r, "viewers", "viewers_withheld_intervals") for r in series], labels,
                        f"Viewers per {unit}", fill="#2e9d52", label_every=every),
            charts.bars([r["looking_seconds"] for r in series], labels, f"Attention (person-seconds) per {unit}",
                        unit=" s", fill="#e0a21b", label_every=every)],
        "mix": charts.mix(expressions, "Expression mix of viewers"),
        "unbroken": total("viewers_unbroken"), "viewers": total("viewers"), "withheld": total("withheld_intervals"),
        "viewers_withheld": total("viewers_withheld_intervals"), "intervals": total("intervals"),
        "timeline": charts.timeline(plays, start, end, "Plays (UTC)", width=720) if span == "day" else None,
        "plays": plays[-RECENT_PLAYS:], "history": screen_log.history(reader, site, device),
        "released": proof.released(reader, first, last, site=site, device=device, limit=RELEASED_LISTED),
        "prev": earlier if earlier >= params.EARLIEST else None,
        "next": later if later <= params.latest(today) else None}


def known(row: dict, figure: str, withheld: str) -> float | None:
    """An hour's (or day's) count of people for a chart, or None when none of its intervals
    published it (every one withheld, or none reported): unknown, never drawn as 0."""
    return row[figure] if row["intervals"] > row[withheld] else None


def _by_day(hours: list[dict]) -> tuple[list[str], list[dict], int]:
    """(labels, rows, label every) of a week: its hours summed by day, which read better."""
    days: dict[date, dict] = {}
    for h in hours:
        entry = days.setdefault(h["hour"].date(), {"passers": 0, "viewers": 0, "looking_seconds": 0.0,
                                                   "intervals": 0, "withheld_intervals": 0,
                                                   "viewers_withheld_intervals": 0})
        for key in entry:
            entry[key] += h[key]
    return [f"{d:%a %d}" for d in days], list(days.values()), 1


# ----- creatives -----------------------------------------------------------------------------

def report_period(span: str | None, end: str | None, order: str | None, today: date) -> tuple[date, date, str]:
    first, last = params.period(end, span, today)
    return first, last, params.choice("order", order, CREATIVE_ORDERS, "attention")


def creatives_view(reader: sa.Engine, first: date, last: date, site: str | None, device: str | None,
                   order: str) -> dict:
    """The creatives report, and the scale its bars share (the largest upper bound)."""
    report = queries.creatives(reader, first, last, site=site or None, device=device or None, order=order)
    scale = max([r.attention_ci[1] if r.attention_ci else r.attention_mean for r in report
                 if r.attention_mean is not None], default=1)
    return {"report": report, "scale": scale,
            "unranked": {r.creative for r in report if not queries.ranked(r, order)},
            "quiet": proof.quiet_days(reader, first, last, site=site or None, device=device or None)}


def creatives_json(reader: sa.Engine, first: date, last: date, site: str | None, device: str | None,
                   order: str) -> dict:
    report = queries.creatives(reader, first, last, site=site or None, device=device or None, order=order)
    quiet = proof.quiet_days(reader, first, last, site=site or None, device=device or None)
    # the seconds of days with fewer than min_group passers: on screen, but no creative's plays
    return {"start": first.isoformat(), "end": last.isoformat(), "creatives": [asdict(r) for r in report],
            "audience_released_per_day": asdict(quiet)}


# ----- exports -------------------------------------------------------------------------------

def streamed_csv(header: list[str], rows: Iterable[list], every: int = 500) -> Iterator[str]:
    """A CSV a piece at a time (`every` rows), for a StreamingResponse: memory stays bounded
    however many rows there are."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(value) for value in row])
        if n % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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
