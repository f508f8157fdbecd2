"""The daily availability report on both databases: a scripted day of statuses (online
18 of 24 hours, the display lost for one of them, the camera gone for half an hour)
gives exactly those percentages, on the page and in the streamed CSV; the state carries
across midnight, a retired screen stops counting, and the retention purge keeps the
state a report starts from."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet import availability
from signage.fleet.parse import parse
from signage.fleet.tables import screen_transitions, screens, status_history
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

DAY = f.T0.date()
MIDNIGHT = datetime.combine(DAY, datetime.min.time())


def at(hours: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hours)


def said(kind: str, body, device: str = "a") -> object:
    raw = body if isinstance(body, bytes) else f.encode(body)
    return parse("signage", f"signage/lab/{device}/{kind}", raw)


def scripted_day(store) -> None:
    """lab/a: online from 22:00 the day before; stopped 06:00-09:00, offline (died)
    09:00-12:00; its display lost 14:00-15:00, its camera gone 20:00-20:30.
    lab/b: offline since the day before."""
    script = [(-2, [said("available", b"online"), said("status", f.status())]),
              (-1, [said("available", b"online", "b"), said("available", b"offline", "b")]),
              (6, [said("status", f.status(broker="stopped")), said("available", b"stopped")]),
              (7, [said("available", b"stopped")]),  # said again (retained): no change
              (9, [said("available", b"offline")]),
              (12, [said("available", b"online"), said("status", f.status())]),
              (14, [said("status", f.status(display="lost"))]),
              (14.5, [said("status", f.status(display="lost", uptime_s=99))]),  # no change
              (15, [said("status", f.status())]),
              (20, [said("status", f.status(camera="gone"))]),
              (20.5, [said("status", f.status(camera="ok"))])]
    for hours, batch in script:
        store.write(batch, now=at(hours))


def test_a_scripted_day_gives_exact_percentages(store):
    scripted_day(store)
    rows = {(d.device, d.day): d for d in availability.report(store.reader, DAY - timedelta(days=1),
                                                              DAY + timedelta(days=1), now=at(30))}
    day = rows[("a", DAY)]
    assert day.observed_s == 24 * 3600
    assert (day.online, day.display_ok, day.camera_ok) == (75.0, round(100 * 17 / 24, 2), round(100 * 17.5 / 24, 2))
    before = rows[("a", DAY - timedelta(days=1))]  # known from 22:00 only
    assert before.observed_s == 2 * 3600 and before.online == 100.0
    after = rows[("a", DAY + timedelta(days=1))]  # until now (06:00), from the state at midnight
    assert after.observed_s == 6 * 3600 and (after.online, after.display_ok, after.camera_ok) == (100.0, 100.0, 100.0)
    down = rows[("b", DAY)]
    assert down.observed_s == 24 * 3600 and (down.online, down.display_ok, down.camera_ok) == (0.0, 0.0, 0.0)
    assert ("b", DAY - timedelta(days=1)) in rows and len(rows) == 6


def test_the_page_and_the_streamed_csv_say_the_same(store):
    scripted_day(store)
    client = logged_in(store)
    response = client.get(f"/export/availability.csv?start={DAY}&end={DAY}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.text)))
    assert table == [availability.CSV_COLUMNS,
                     [DAY.isoformat(), "lab", "a", "24.0", "75.0", "70.83", "72.92"],
                     [DAY.isoformat(), "lab", "b", "24.0", "0.0", "0.0", "0.0"]]
    only_b = client.get(f"/export/availability.csv?start={DAY}&end={DAY}&device=b").text
    assert [r[2] for r in csv.reader(io.StringIO(only_b))] == ["device", "b"]
    page = client.get(f"/availability?span=day&end={DAY}").text
    assert "75.00 %" in page and "70.83 %" in page and "72.92 %" in page and "2 screens" in page
    one = client.get(f"/availability?span=week&end={DAY}&site=lab&device=a").text
    assert f'data-day="{DAY.isoformat()}"' in one and "Day by day" in one
    assert client.get("/availability?span=year").status_code == 400


def test_a_retired_screen_stops_counting_and_the_purge_keeps_the_starting_state(store):
    scripted_day(store)
    store.retire_after_days, store.retention_days = 2, 3
    purge_at = at(24 * 5)
    deleted = store.purge(now=purge_at)
    assert deleted["screens (retired)"] == 1  # lab/b, offline for days; lab/a went on (online)
    assert deleted["screen_transitions"] > 0
    with store.engine.begin() as conn:
        kept = conn.execute(sa.select(screen_transitions.c.device, screen_transitions.c.feature,
                                      screen_transitions.c.value).order_by(screen_transitions.c.row)).all()
    assert kept == [("b", "availability", "offline"), ("a", "availability", "online"), ("a", "display", "ok"),
                    ("a", "camera", "ok"), ("b", "availability", "retired")]
    later = {(d.device, d.day): d for d in availability.report(store.reader, DAY + timedelta(days=5),
                                                               DAY + timedelta(days=5), now=at(24 * 6))}
    assert list(later) == [("a", DAY + timedelta(days=5))] and later[("a", DAY + timedelta(days=5))].online == 100.0


def test_migration_0008_fills_the_transitions_from_what_is_known(store):
    store.migrate("0007")
    with store.engine.begin() as conn:
        conn.execute(sa.insert(status_history), [
            {"site": "lab", "device": "a", "at": at(1), "kind": "available", "detail": "online"},
            {"site": "lab", "device": "a", "at": at(2), "kind": "status", "detail": "camera: ok → gone"},
            {"site": "lab", "device": "a", "at": at(3), "kind": "available", "detail": "offline"}])
        conn.execute(sa.insert(screens).values(site="lab", device="a", availability="offline", camera="gone",
                                               display="ok", status_at=at(2)))
    store.migrate()
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(screen_transitions.c.feature, screen_transitions.c.value,
                                      screen_transitions.c.at).order_by(screen_transitions.c.at,
                                                                        screen_transitions.c.feature)).all()
    assert rows == [("availability", "online", at(1)), ("camera", "gone", at(2)), ("display", "ok", at(2)),
                    ("availability", "offline", at(3))]
