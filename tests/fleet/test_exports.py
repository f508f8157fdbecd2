"""The exports (issue 20): streamed from a batched read, filtered by site, screen and
creative, rounded, headed by the definitions they follow, with the daily CI of attention
and every withheld figure empty with its reason. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import anyio
import pytest
import sqlalchemy as sa

from signage.fleet import definitions, queries, streamed, withheld
from signage.fleet.auth import SESSION_COOKIE
from signage.fleet.parse import parse
from signage.fleet.times import day_range
from signage.fleet.web import export_rows
from signage.fleet.web.present import streamed_csv
from tests.fleet import factory as f
from tests.fleet.dashboard import csv_rows, logged_in

NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)
DAY = f.T0.date().isoformat()
PERIOD = {"start": DAY, "end": DAY}


def message(body: dict, kind: str = "play"):
    return parse("signage", f"signage/{body['site']}/{body['device']}/{kind}", f.encode(body), now=NOW)


def totals(creative: str, plays: int, period: str = "hour", device: str = "a") -> dict:
    start = f.T0 if period == "hour" else f.T0.replace(hour=0)
    length = timedelta(hours=1) if period == "hour" else timedelta(days=1)
    return {"site": "lab", "device": device, "id": str(uuid.uuid4()), "period": period, "start": f.iso(start),
            "end": f.iso(start + length), "creatives": {creative: {"plays": plays, "seconds": 10.0 * plays}}}


def withheld_play(creative: str, minute: int, device: str = "a") -> dict:
    return f.play(creative=creative, device=device, start=f.T0 + timedelta(minutes=minute)) | {
        "peak_faces": None, "mean_faces": None, "peak_viewers": None, "looking_seconds": None,
        "expressions": {"suppressed": True}, "withheld": ["people", "looking", "expressions"]}


@pytest.fixture
def client(store):
    with logged_in(store) as opened:
        yield opened


@pytest.fixture
def fleet(store):
    """Two sites, three screens, three creatives, some noisy floats, one withheld play."""
    bodies = [f.play(site=site, device=device, creative=creative, start=f.T0 + timedelta(minutes=minute),
                     seconds=seconds, looking=looking) | {"ots": 4, "viewers": 3}
              for minute, (site, device, creative, seconds, looking) in enumerate([
                  ("lab", "a", "spring", 45.611999999999995, 2.0), ("lab", "a", "spring", 10.0, 4.0),
                  ("lab", "a", "spring", 10.0, 6.0), ("lab", "b", "autumn", 0.1 + 0.2, 0.1),
                  ("mall", "c", "spring", 10.0, 1 / 3), ("mall", "c", "winter", 10.0, 5.0)])]
    bodies.append(withheld_play("winter", 10, device="c") | {"site": "mall"})
    store.write([message(b) for b in bodies], now=NOW)
    return bodies


def test_the_streamed_exports_hold_what_the_rows_store(store, client, fleet):
    """One row per play in the stored order, each figure the stored one to 0.01: what the
    exports built in memory said, rounded, with the withheld column added."""
    stored = queries.plays_between(store.reader, *day_range(f.T0.date(), f.T0.date()))
    rows = csv_rows(client.get("/export/plays.csv", params=PERIOD).text)
    data = client.get("/export/plays.json", params=PERIOD).json()["plays"]
    assert [r["id"] for r in rows] == [p["id"] for p in data] == [s["id"] for s in stored]
    for row, item, kept in zip(rows, data, stored):
        for column in ("site", "device", "creative", "rule", "ended"):
            assert row[column] == item[column] == kept[column]
        for column in ("seconds", "mean_faces", "looking_seconds"):
            want = None if kept[column] is None else round(kept[column], 2)
            assert item[column] == want and row[column] == ("" if want is None else str(want))
        assert item["start"] == row["start"] == kept["start"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        mix = json.loads(kept["expressions"]) if kept["expressions"] else None
        assert item["expressions"] == (mix and {k: round(v, 2) for k, v in mix.items()})


def test_each_export_filters_by_site_screen_and_creative(client, fleet):
    def creatives(path, **chosen):
        return sorted((r["site"], r["device"], r["creative"])
                      for r in csv_rows(client.get(path, params=PERIOD | chosen).text))

    for path in ("/export/plays.csv", "/export/daily.csv"):
        assert {s for s, _, _ in creatives(path, site="mall")} == {"mall"}
        assert {d for _, d, _ in creatives(path, device="b")} == {"b"}
        assert {c for _, _, c in creatives(path, creative="spring")} == {"spring"}
        assert set(creatives(path, site="mall", device="c", creative="spring")) == {("mall", "c", "spring")}
    devices = {p["device"] for p in client.get("/export/plays.json", params=PERIOD | {"device": "c"}).json()["plays"]}
    assert devices == {"c"}


@pytest.mark.parametrize("path", ["/export/plays.csv", "/export/daily.csv", "/export/plays.json"])
def test_an_unknown_filter_is_an_empty_file_and_a_bad_date_a_400(client, fleet, path):
    answer = client.get(path, params=PERIOD | {"site": "nowhere", "device": "x", "creative": "none"})
    assert answer.status_code == 200
    if path.endswith(".json"):
        assert answer.json()["plays"] == []
    else:
        lines = answer.text.splitlines()
        assert lines[0] == definitions.HEADER_LINE.strip() and lines[1].startswith("id,") + lines[1].startswith(
            "day,") == 1 and len(lines) == 2
    bad = client.get(path, params={"start": "2026-02-30"})
    assert bad.status_code == 400 and "start" in bad.text and "YYYY-MM-DD" in bad.text


def test_figures_are_rounded_and_counts_stay_whole(client, fleet):
    rows = {(r["device"], r["creative"], r["seconds"]): r for r in csv_rows(
        client.get("/export/plays.csv", params=PERIOD).text)}
    assert ("a", "spring", "45.61") in rows and ("b", "autumn", "0.3") in rows
    assert rows[("c", "spring", "10.0")]["looking_seconds"] == "0.33"
    assert rows[("a", "spring", "45.61")]["ots"] == "4" and rows[("a", "spring", "45.61")]["peak_faces"] == "3"
    daily = {(r["device"], r["creative"]): r for r in csv_rows(client.get("/export/daily.csv", params=PERIOD).text)}
    assert daily[("a", "spring")]["seconds"] == "65.61" and daily[("a", "spring")]["plays"] == "3"
    assert daily[("b", "autumn")]["seconds"] == "0.3"
    data = client.get("/export/plays.json", params=PERIOD).json()["plays"]
    assert {type(p["ots"]) for p in data if p["ots"] is not None} == {int}
    assert {p["seconds"] for p in data} >= {45.61, 0.3}


def test_every_export_names_its_definitions_in_a_line_a_header_and_the_json(client, fleet):
    for path in ("/export/plays.csv", "/export/daily.csv", "/export/plays.json"):
        answer = client.get(path, params=PERIOD)
        assert answer.headers[definitions.HTTP_HEADER] == definitions.TITLE
        assert "attachment" in answer.headers["content-disposition"]
        if path.endswith(".csv"):
            assert answer.text.startswith(definitions.HEADER_LINE)
        else:
            body = answer.json()
            assert (body["definitions"], body["version"], body["start"], body["end"]) == (
                definitions.TITLE, definitions.VERSION, DAY, DAY)


def test_the_daily_ci_is_the_creatives_pages_ci(store, client, fleet):
    """The same plays, the same interval: per screen and day, the export's attention and
    its 95 % CI are those of the creatives report for that screen and day."""
    daily = {(r["device"], r["creative"]): r for r in csv_rows(client.get("/export/daily.csv", params=PERIOD).text)}
    for device, creative in [("a", "spring"), ("b", "autumn"), ("c", "spring")]:
        report = {r.creative: r for r in queries.creatives(store.reader, f.T0.date(), f.T0.date(), device=device)}
        expected = report[creative]
        row = daily[(device, creative)]
        assert row["attention_per_play"] == str(round(expected.attention_mean, 2))
        if expected.attention_ci is None:
            assert (row["attention_ci_low"], row["attention_ci_high"]) == ("", "")
        else:
            assert (float(row["attention_ci_low"]), float(row["attention_ci_high"])) == (
                round(expected.attention_ci[0], 2), round(expected.attention_ci[1], 2))
    assert daily[("a", "spring")]["attention_ci_low"] == str(round(4.0 - 1.96 * 2.0 / 3 ** 0.5, 2))


def test_withheld_figures_are_empty_with_their_reason_never_0(store, client, fleet):
    older = f.play(device="a", creative="old", start=f.T0 + timedelta(minutes=20))  # no ots, no viewers
    store.write([message(older), message(withheld_play("held", 21)), message(totals("held", 4), "totals"),
                 message(totals("held", 2, "day"), "totals"), message(totals("aggregate", 5), "totals")], now=NOW)
    plays = {r["creative"]: r for r in csv_rows(client.get("/export/plays.csv", params=PERIOD).text)}
    assert plays["old"]["withheld"] == f"ots, viewers: {withheld.OLD}" and plays["old"]["ots"] == ""
    held = plays["held"]
    assert held["withheld"] == f"people, looking, expressions: {withheld.FEW}"
    assert [held[c] for c in ("peak_faces", "mean_faces", "peak_viewers", "looking_seconds", "expressions",
                              "ots", "viewers")] == [""] * 7
    assert plays["spring"]["withheld"] == ""
    json_held = next(p for p in client.get("/export/plays.json", params=PERIOD).json()["plays"]
                     if p["creative"] == "held")
    assert json_held["expressions"] is None and json_held["withheld"] == held["withheld"]

    daily = {(r["device"], r["creative"]): r for r in csv_rows(client.get("/export/daily.csv", params=PERIOD).text)}
    row = daily[("a", "held")]
    assert row["withheld"] == (f"4 plays released in aggregate (hour); 2 plays released in aggregate (day); "
                               f"audience or expression mix of 1 plays withheld: {withheld.FEW}")
    assert (row["plays"], row["suppressed_plays"]) == ("7", "7")
    assert [row[c] for c in ("viewed_plays", "peak_viewers", "looking_seconds", "impressions",
                             "viewed_impressions", "attention_per_play", "attention_ci_low")] == [""] * 7
    assert daily[("a", "aggregate")]["withheld"] == "5 plays released in aggregate (hour)"
    assert daily[("a", "old")]["withheld"] == f"impressions, viewed_impressions: {withheld.OLD}"
    assert daily[("a", "old")]["impressions"] == "" and daily[("a", "old")]["looking_seconds"] == "6.0"
    assert daily[("a", "spring")]["withheld"] == ""


def test_a_cell_a_spreadsheet_would_run_as_a_formula_stays_text():
    text = "".join(streamed_csv(["name"], [["=1+1"], ["@SUM(A1)"], ["-3.5"], ["+cmd|x"], [None]]))
    assert text.splitlines() == ["name", "'=1+1", "'@SUM(A1)", "-3.5", "'+cmd|x", '""']


# ----- streaming ------------------------------------------------------------------------------

PLAYS = 300


@pytest.fixture
def many(store, monkeypatch):
    """PLAYS plays, read 10 at a time and written 10 rows a piece; counts the rows shaped."""
    store.write([message(f.play(start=f.T0 + timedelta(seconds=20 * i), seconds=10.0)) for i in range(PLAYS)],
                now=NOW)
    monkeypatch.setattr(streamed, "BATCH", 10)
    monkeypatch.setattr(export_rows, "ROWS_A_PIECE", 10)
    shaped = []
    reason = withheld.play_reason
    monkeypatch.setattr(withheld, "play_reason", lambda row: shaped.append(row["id"]) or reason(row))
    executed = []

    def record(conn, cursor, statement, *_):
        executed.append((statement, cursor))

    sa.event.listen(store.reader, "after_cursor_execute", record)
    yield shaped, executed
    sa.event.remove(store.reader, "after_cursor_execute", record)


def download(app, cookie: str, path: str, pieces_then_leave: int | None) -> list[bytes]:
    """GET `path` through the ASGI app, as a client that reads `pieces_then_leave` pieces of
    the body and disconnects (None: reads it all)."""
    body: list[bytes] = []

    async def run():
        enough = anyio.Event()

        async def receive():
            await enough.wait()
            return {"type": "http.disconnect"}

        async def send(event):
            if event["type"] == "http.response.body" and event.get("body"):
                body.append(event["body"])
                if pieces_then_leave is not None and len(body) >= pieces_then_leave:
                    enough.set()

        target, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": target, "raw_path": target.encode(),
                 "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 5000),
                 "server": ("testserver", 80),
                 "headers": [(b"host", b"testserver"), (b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]}
        await app(scope, receive, send)

    anyio.run(run)
    return body


def test_the_export_streams_a_batch_at_a_time_and_lets_go_when_the_client_leaves(store, client, many):
    shaped, executed = many
    cookie = client.cookies[SESSION_COOKIE]
    pieces = download(client.app, cookie, f"/export/plays.csv?start={DAY}&end={DAY}", pieces_then_leave=3)
    assert len(pieces) >= 3 and len(shaped) < PLAYS / 3, "the rows are read as the client takes them"
    assert store.reader.pool.checkedout() == 0, "the connection went back when the client left"
    if store.reader.dialect.name == "postgresql":
        assert any(type(cursor).__name__ == "ServerCursor" for _, cursor in executed), "a server-side cursor"

    shaped.clear()
    whole = b"".join(download(client.app, cookie, f"/export/plays.json?start={DAY}&end={DAY}", None))
    assert len(json.loads(whole)["plays"]) == PLAYS == len(shaped)
    assert store.reader.pool.checkedout() == 0


def test_a_streamed_read_holds_its_connection_only_until_read_or_closed(store, many):
    rows = streamed.StreamedRows(store.reader, queries.plays_select(*day_range(f.T0.date(), f.T0.date())))
    assert store.reader.pool.checkedout() == 1
    first = next(iter(rows))
    assert first["seconds"] == 10.0
    rows.close()
    rows.close()
    assert rows.closed and store.reader.pool.checkedout() == 0
    again = streamed.StreamedRows(store.reader, queries.plays_select(*day_range(f.T0.date(), f.T0.date())))
    assert len(list(again)) == PLAYS and store.reader.pool.checkedout() == 0


def test_the_creatives_pages_export_links_carry_its_filters(client, fleet):
    page = client.get("/creatives", params={"span": "day", "end": DAY, "site": "mall", "device": "c"}).text
    for name in ("export-csv", "export-json", "export-daily"):
        link = page[page.index(f'id="{name}"') - 200:page.index(f'id="{name}"')]
        assert f"start={DAY}&amp;end={DAY}&amp;site=mall&amp;device=c" in link, name
    spring = page[page.index('data-creative="spring"'):]
    assert "site=mall&amp;device=c&amp;creative=spring" in spring[:spring.index("</tr>")]
