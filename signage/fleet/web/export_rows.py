"""The exports' rows as they are written: proof of play (CSV and JSON) and the daily
rollup (CSV), one row at a time from a streamed read, with the definitions line first,
figures rounded and every withheld figure empty with its reason (withheld.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from signage.fleet import definitions, queries, withheld
from signage.fleet.streamed import Released
from signage.fleet.times import iso
from signage.fleet.web.present import streamed_csv

DECIMALS = 2  # seconds, person-seconds and mean people to 0.01 (docs/fleet.md, Exports)
PLAY_COLUMNS = ["id", "site", "device", "creative", "rule", "start", "end", "seconds", "ended", "peak_faces",
                "mean_faces", "peak_viewers", "looking_seconds", "expressions", "ots", "viewers", "withheld"]
# impressions and viewed_impressions (docs/glossary.md) are empty when no play of the row published them
DAILY_COLUMNS = ["day", "site", "device", "creative", "plays", "seconds", "viewed_plays", "peak_viewers",
                 "looking_seconds", "suppressed_plays", "measured_plays", "impressions", "ots_plays",
                 "viewed_impressions", "viewer_plays", "attention_per_play", "attention_ci_low", "attention_ci_high",
                 "withheld"]
ROWS_A_PIECE = 500  # rows written to the response at a time

Row = Mapping[Any, Any]  # a row as the database gives it (sqlalchemy.RowMapping) or a dict


def rounded(value):
    """A figure as exported: floats to DECIMALS (45.611999999999995 is 45.61), integers and
    empty ones as they are."""
    return round(value, DECIMALS) if isinstance(value, float) else value


def play(row: Row) -> dict[str, Any]:
    """A proof-of-play row: UTC ISO times, the expression mix as an object, None for what
    was withheld, and why."""
    item = {k: rounded(row[k]) for k in PLAY_COLUMNS[:-1]}
    item["start"], item["end"] = iso(row["start"]), iso(row["end"])
    mix = json.loads(row["expressions"]) if row["expressions"] else None
    item["expressions"] = {k: rounded(v) for k, v in mix.items()} if mix is not None else None
    item["withheld"] = withheld.play_reason(row)
    return item


def plays_csv(rows: Iterable[Row]) -> Iterator[str]:
    def cells(item: dict) -> list:
        mix = item["expressions"]
        return [json.dumps(mix, sort_keys=True) if k == "expressions" and mix is not None else item[k]
                for k in PLAY_COLUMNS]

    yield definitions.HEADER_LINE
    yield from streamed_csv(PLAY_COLUMNS, (cells(play(row)) for row in rows), every=ROWS_A_PIECE)


def plays_json(rows: Iterable[Row], start: str, end: str) -> Iterator[str]:
    """{"definitions", "start", "end", "plays": [...]}, written a few hundred plays at a
    time: valid JSON once whole, however many plays."""
    head = {"definitions": definitions.TITLE, "version": definitions.VERSION, "start": start, "end": end}
    yield json.dumps(head)[:-1] + ', "plays": ['
    pieces, first = [], True
    for row in rows:
        pieces.append(("\n" if first else ",\n") + json.dumps(play(row)))
        first = False
        if len(pieces) == ROWS_A_PIECE:
            yield "".join(pieces)
            pieces = []
    yield "".join(pieces) + "\n]}\n"


def daily(row: Row, released: Mapping[str, int]) -> list:
    """A daily rollup row's cells: the sums, the attention per play with its 95 %
    confidence interval (as the creatives page computes it), empty where withheld."""
    empty = withheld.daily_empty(row)
    mean, ci = queries.attention(row["measured_plays"], row["looking_seconds"], row["looking_squares"])
    values = dict(row) | {"day": row["day"].isoformat(), "attention_per_play": mean,
                          "attention_ci_low": ci[0] if ci else None, "attention_ci_high": ci[1] if ci else None,
                          "withheld": withheld.daily_reason(row, released)}
    return [None if k in empty else rounded(values[k]) for k in DAILY_COLUMNS]


def daily_csv(rows: Iterable[Row], released_on: Callable[[date], Released]) -> Iterator[str]:
    """The daily CSV; `released_on(day)` gives a day's plays released in aggregate
    (streamed.released), asked once per day as the rows go by."""
    def cells() -> Iterator[list]:
        day, found = None, Released()
        for row in rows:
            if row["day"] != day:
                day, found = row["day"], released_on(row["day"])
            yield daily(row, found.get((row["site"], row["device"], row["creative"]), {}))

    yield definitions.HEADER_LINE
    yield from streamed_csv(DAILY_COLUMNS, cells(), every=ROWS_A_PIECE)
