"""Fleet storage on SQLite and on a real PostgreSQL: migrations, idempotency, rollups,
suppression, retention, atomic batches, concurrent writers."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from signage.fleet import database, queries, screen_log
from signage.fleet.store import housekeeping
from signage.fleet.parse import parse
from signage.fleet.tables import (creative_day_expressions, creative_days, creative_site_day_expressions,
                                  creative_site_days, dead_letters, metadata, metrics, plays, screen_hours,
                                  status_history)
from signage.fleet.store.facts import RAW_MAX_BYTES
from signage.fleet.store.housekeeping import DEAD_LETTER_PAYLOAD
from signage.fleet.times import now_utc
from signage.wire.messages import MAX_IMPRESSIONS
from tests.fleet import factory as f

NOW = f.T0.replace(tzinfo=None) + timedelta(hours=2)


def incoming(body: dict, kind: str):
    return parse("signage", f.topic(body, kind), f.encode(body))


def count(store, table) -> int:
    with store.engine.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_migrations_build_exactly_the_schema_and_go_down_and_up(store):
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    store.migrate("base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    before, after = store.migrate()
    head = database.head_revision()
    assert (before, after) == (None, head)
    assert store.migrate() == (head, head)  # idempotent


def test_migration_0002_fills_the_site_rollups_from_the_screen_rollups(store):
    store.migrate("0001")
    day = f.T0.date()
    with store.engine.begin() as conn:
        conn.execute(sa.insert(creative_days), [
            {"site": "lab", "device": d, "day": day, "creative": "spring", "plays": n, "seconds": 10.0 * n,
             "viewed_plays": n, "peak_viewers": n, "looking_seconds": 2.0 * n, "looking_squares": 4.0 * n,
             "suppressed_plays": 0, "expressed_seconds": 2.0 * n} for d, n in (("a", 3), ("b", 4))])
    store.migrate()
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(creative_site_days.c.plays, creative_site_days.c.seconds)).one() == (7, 70.0)


def test_migration_0006_starts_the_raw_payload_budget_from_what_is_kept(store):
    store.migrate("0005")
    with store.engine.begin() as conn:
        conn.execute(sa.insert(metrics), [{"id": f"m{i}", "site": "lab", "device": "a", "start": NOW, "end": NOW,
                                           "payload": "x" * (100 + i), "received_at": NOW} for i in range(3)])
    store.migrate()
    assert queries.counter_values(store.engine)["raw_bytes"] == 303
    store.migrate("0005")
    assert "raw_bytes" not in queries.counter_values(store.engine)


def test_a_play_that_withholds_its_audience_is_proof_of_play_and_is_never_summed(store):
    """Fewer than min_group people: the kiosk publishes the play with null audience fields.
    It is stored (proof of play), counted as a play and as suppressed, and adds nothing to
    the audience figures (a sum over small groups would re-derive them)."""
    withheld = f.play(start=f.T0) | {"rule": "audience", "peak_faces": None, "mean_faces": None,
                                     "peak_viewers": None, "looking_seconds": None,
                                     "expressions": {"suppressed": True}}
    measured = f.play(start=f.T0 + timedelta(seconds=30)) | {"peak_viewers": 3, "looking_seconds": 12.0}
    result = store.write([incoming(withheld, "play"), incoming(measured, "play")], now=NOW)
    assert result.stored == 2
    with store.engine.begin() as conn:
        day = conn.execute(sa.select(creative_days.c.plays, creative_days.c.suppressed_plays,
                                     creative_days.c.peak_viewers, creative_days.c.looking_seconds)).one()
    assert day == (2, 1, 3, 12.0)


def test_an_interval_that_withholds_its_counts_is_counted_as_withheld_and_never_summed(store):
    """Fewer than min_group passers (possibly none): the kiosk publishes null counts, and
    null frames with them. The interval is stored and counted as withheld; its people
    and frames are unknown, not zero, and no sum, maximum or breakdown takes them in."""
    quiet = {"passers": None, "viewers": None, "peak_faces": None, "conversion": None, "attraction": None,
             "distance": {"suppressed": True}, "dwell": {"suppressed": True},
             "attention": {"suppressed": True}, "expressions": {"suppressed": True},
             "frames": None, "dropped_frames": None, "inference_ms": None}
    few_viewers = {"viewers": None, "attention": {"suppressed": True}, "expressions": {"suppressed": True}}
    bodies = [f.metrics(start=f.T0) | quiet,
              f.metrics(start=f.T0 + timedelta(minutes=1), passers=5) | few_viewers,
              f.metrics(start=f.T0 + timedelta(minutes=2), passers=6, viewers=4, peak_faces=4)]
    assert store.write([incoming(body, "metrics") for body in bodies], now=NOW).stored == 3
    with store.engine.begin() as conn:
        stored = conn.execute(sa.select(metrics.c.passers, metrics.c.viewers, metrics.c.peak_faces)
                              .order_by(metrics.c.start)).all()
        hour = conn.execute(sa.select(screen_hours.c.intervals, screen_hours.c.withheld_intervals,
                                      screen_hours.c.viewers_withheld_intervals, screen_hours.c.passers,
                                      screen_hours.c.viewers, screen_hours.c.peak_faces,
                                      screen_hours.c.viewers_unbroken)).one()
        frames = conn.execute(sa.select(screen_hours.c.frames, screen_hours.c.dropped_frames)).one()
    assert stored == [(None, None, None), (5, None, 3), (6, 4, 4)]
    assert hour == (3, 1, 2, 11, 4, 4, 0)
    assert tuple(frames) == (1200, 4), "the frames of the two intervals that published them"
    assert queries.hours(store.engine, "lab", "a", f.T0.date(), f.T0.date())[9]["withheld_intervals"] == 1


def test_the_same_thousand_messages_twice_store_a_thousand(store):
    bodies = [(f.metrics(start=f.T0 + timedelta(minutes=i % 120)), "metrics") if i % 2 else
              (f.play(start=f.T0 + timedelta(seconds=10 * i)), "play") for i in range(1000)]
    first = store.write([incoming(b, k) for b, k in bodies], now=NOW)
    assert (first.stored, first.duplicates) == (1000, 0)
    with store.engine.begin() as conn:
        rollup = conn.execute(sa.select(sa.func.sum(screen_hours.c.passers), sa.func.sum(screen_hours.c.plays))).one()
    # Replayed in other batch sizes, in another order, with in-batch duplicates.
    replay = [incoming(b, k) for b, k in reversed(bodies)]
    for offset in range(0, 1000, 300):
        again = store.write(replay[offset:offset + 300] + replay[offset:offset + 2], now=NOW)
        assert again.stored == 0
    assert count(store, metrics) + count(store, plays) == 1000
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.sum(screen_hours.c.passers),
                                      sa.func.sum(screen_hours.c.plays))).one() == rollup
    assert rollup == (500 * 4, 500)
    assert queries.counter_values(store.engine)["duplicates"] == 1000 + 8


def test_rollups_per_screen_hour_and_per_creative_day(store):
    batch = [f.metrics(start=f.T0, passers=5, viewers=2, peak_faces=4),
             f.metrics(start=f.T0 + timedelta(minutes=1), passers=1, viewers=1, peak_faces=2),
             f.metrics(start=f.T0 + timedelta(hours=1), passers=7, viewers=0, expressions={}),
             f.metrics(device="b", start=f.T0, passers=9, viewers=9)]
    spring = [f.play(start=f.T0 + timedelta(minutes=i), looking=x) for i, x in enumerate([2.0, 4.0, 6.0])]
    autumn = [f.play(creative="autumn", start=f.T0 + timedelta(days=1), looking=0.0, peak_viewers=0)]
    store.write([incoming(m, "metrics") for m in batch] + [incoming(p, "play") for p in spring + autumn], now=NOW)
    day = f.T0.date()
    rows = {r["hour"].hour: r for r in queries.hours(store.reader, "lab", "a", day, day) if r["passers"]}
    assert (rows[9]["passers"], rows[9]["viewers"], rows[9]["peak_faces"], rows[9]["plays"]) == (6, 3, 4, 3)
    assert rows[9]["looking_seconds"] == pytest.approx(12.0)
    assert rows[10]["passers"] == 7
    report = {r.creative: r for r in queries.creatives(store.reader, day, day + timedelta(days=1))}
    s = report["spring"]
    assert (s.plays, s.viewed_plays, s.seconds, s.attention_mean) == (3, 3, 30.0, pytest.approx(4.0))
    low, high = s.attention_ci
    assert low == pytest.approx(4.0 - 1.96 * 2.0 / 3 ** 0.5) and high == pytest.approx(4.0 + 1.96 * 2.0 / 3 ** 0.5)
    assert report["autumn"].viewed_plays == 0 and report["autumn"].attention_ci is None
    assert [r.creative for r in queries.creatives(store.reader, day, day)] == ["spring"]  # day filter
    assert queries.creatives(store.reader, day, day, site="elsewhere") == []
    assert [r.creative for r in queries.creatives(store.reader, day, day + timedelta(days=1), order="attention")] \
        == ["spring", "autumn"]
    # Per screen (screen rollups) and per site (site rollups) agree.
    by_screen = queries.creatives(store.reader, day, day + timedelta(days=1), device="a")
    by_site = queries.creatives(store.reader, day, day + timedelta(days=1), site="lab")
    assert [(r.creative, r.plays, r.looking_seconds) for r in by_screen] == \
        [(r.creative, r.plays, r.looking_seconds) for r in by_site]
    with store.engine.begin() as conn:
        for screen_table, site_table, column in ((creative_days, creative_site_days, "looking_seconds"),
                                                 (creative_day_expressions, creative_site_day_expressions, "seconds")):
            assert conn.execute(sa.select(sa.func.sum(screen_table.c[column]))).scalar() == pytest.approx(
                conn.execute(sa.select(sa.func.sum(site_table.c[column]))).scalar())


def test_suppressed_breakdowns_stay_suppressed(store):
    shown = f.play(looking=6.0, expressions={"happy": 6.0})
    hidden = [f.play(start=f.T0 + timedelta(minutes=i + 1), looking=3.0, expressions={"suppressed": True})
              for i in range(4)]
    m_shown = f.metrics(viewers=3, expressions={"happy": 3})
    m_hidden = f.metrics(start=f.T0 + timedelta(minutes=1), viewers=2, expressions={"suppressed": True})
    store.write([incoming(p, "play") for p in [shown] + hidden] +
                [incoming(m, "metrics") for m in (m_shown, m_hidden)], now=NOW)
    report = queries.creatives(store.reader, f.T0.date(), f.T0.date())[0]
    assert report.expressions == {"happy": 1.0}  # drawn only from the published breakdown
    assert report.suppressed_plays == 4
    assert report.expressed_share == pytest.approx(6.0 / 18.0)
    mix = queries.hour_expressions(store.reader, "lab", "a", f.T0.date(), f.T0.date())
    assert mix == {"happy": 3}
    hour = next(r for r in queries.hours(store.reader, "lab", "a", f.T0.date(), f.T0.date()) if r["viewers"])
    assert (hour["viewers"], hour["viewers_unbroken"]) == (5, 2)
    stored = queries.plays_between(store.reader, f.T0.replace(tzinfo=None), NOW)
    assert sum(1 for p in stored if p["expressions"] is None) == 4


def test_a_batch_that_fails_midway_stores_nothing(store, monkeypatch):
    batch = [incoming(f.metrics(), "metrics"), incoming(f.play(), "play")]

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.rollups, "add", broken)
    with pytest.raises(RuntimeError):
        store.write(batch, now=NOW)
    assert count(store, metrics) == count(store, plays) == count(store, screen_hours) == 0
    monkeypatch.undo()
    assert store.write(batch, now=NOW).stored == 2


def test_retention_purges_raw_rows_keeps_rollups_and_refuses_older_messages(store):
    store.retention_days = 7
    old = f.play(start=f.T0 - timedelta(days=30))
    store.write([incoming(old, "play")], now=f.T0.replace(tzinfo=None) - timedelta(days=29))
    assert count(store, plays) == 1
    assert store.purge(now=NOW)["plays"] == 1
    assert count(store, plays) == 0 and count(store, creative_days) == 1
    replay = store.write([incoming(old, "play")], now=NOW)
    assert (replay.stored, replay.expired) == (0, 1)  # not re-counted into the rollups
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(creative_days.c.plays)).scalar() == 1


def test_availability_status_refusals_and_states_make_history(store):
    def state(kind, body, raw=None):
        topic = f"signage/lab/a/{kind}"
        return parse("signage", topic, raw if raw is not None else f.encode(body))

    t = NOW
    store.write([state("available", None, b"online"), state("status", f.status())], now=t)
    store.write([state("status", f.status(uptime_s=99))], now=t + timedelta(seconds=1))  # no visible change
    store.write([state("status", f.status(camera="gone", last_error="camera unplugged"))], now=t + timedelta(seconds=2))
    store.write([state("privacy/state", None, b"ON"), state("error", {"schema": 1, "site": "lab", "device": "a",
                                                                       "topic": "signage/lab/a/creative/set",
                                                                       "error": "creative: unknown id 'x'"})],
                now=t + timedelta(seconds=3))
    store.write([state("available", None, b"offline")], now=t + timedelta(seconds=4))
    screen = queries.screen(store.reader, "lab", "a")
    assert screen["availability"] == "offline" and screen["availability_since"] == t + timedelta(seconds=4)
    assert screen["states"]["privacy"][0] == "ON" and "unknown id" in screen["refusal"]
    kinds = [h["kind"] for h in reversed(screen_log.history(store.reader, "lab", "a"))]
    assert kinds == ["available", "status", "status", "state", "refused", "available"]
    assert any("camera ok → gone" in h["detail"] for h in screen_log.history(store.reader, "lab", "a"))
    rows = queries.fleet(store.reader, today=f.T0.date()).rows
    assert rows[0].health == "offline" and "camera gone" in rows[0].problems
    assert count(store, status_history) == 6


def test_fleet_page_orders_problems_first_and_filters_by_site(store):
    batch = []
    for site, device, availability, extra in [("north", "ok1", b"online", {}), ("north", "down", b"offline", {}),
                                              ("south", "err", b"online", {"display": "lost"}),
                                              ("south", "off", b"stopped", {})]:
        batch += [parse("signage", f"signage/{site}/{device}/available", availability),
                  incoming(f.status(site=site, device=device, **extra), "status")]
    store.write(batch, now=NOW)
    order = [(r.device, r.health) for r in queries.fleet(store.reader).rows]
    assert order == [("down", "offline"), ("err", "problem"), ("off", "stopped"), ("ok1", "ok")]
    assert [r.device for r in queries.fleet(store.reader, site="north").rows] == ["down", "ok1"]
    assert queries.sites(store.reader) == ["north", "south"]


def test_concurrent_writers_with_overlapping_batches_count_each_message_once(store):
    bodies = [f.play(start=f.T0 + timedelta(seconds=i), looking=1.0) for i in range(400)]
    items = [incoming(b, "play") for b in bodies]
    errors = []

    def writer(order):
        try:
            for offset in range(0, 400, 50):
                store.write(order[offset:offset + 50], now=NOW)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(items,)),
               threading.Thread(target=writer, args=(list(reversed(items)),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.sum(creative_days.c.plays))).scalar() == 400
        assert conn.execute(sa.select(sa.func.sum(creative_days.c.looking_seconds))).scalar() == pytest.approx(400)
    assert count(store, plays) == 400


def kept_payload_bytes(store) -> int:
    with store.engine.begin() as conn:
        total = sa.func.coalesce(sa.func.sum(sa.func.length(metrics.c.payload)), 0)
        return int(conn.execute(sa.select(total)).scalar())


def test_raw_payloads_are_capped_per_message_and_in_total(store):
    """Finding 6: metrics payloads of up to 64 KB were kept as received for 90 days (a
    QoS 0 flood grew the database 470 MB in 25 s). Kept now: the message as the model
    reads it (no padding), and only while the total stays within the budget; the rows
    and rollups are stored either way."""
    store.raw_budget_bytes = 100_000
    padded = [f.encode(f.metrics(start=f.T0 + timedelta(minutes=i))).replace(b'"passers"', b' ' * 60_000 +
                                                                              b'"passers"') for i in range(300)]
    items = [parse("signage", "signage/lab/a/metrics", raw) for raw in padded]
    for offset in range(0, 300, 50):
        assert store.write(items[offset:offset + 50], now=NOW).stored == 50
    assert count(store, metrics) == 300
    kept = kept_payload_bytes(store)
    assert 0 < kept <= store.raw_budget_bytes
    assert kept < 300 * 60_000 / 100
    counts = queries.counter_values(store.engine)
    assert counts["raw_not_kept"] > 0 and counts["raw_bytes"] == kept
    with store.engine.begin() as conn:
        assert all(len(p) <= RAW_MAX_BYTES for p in conn.execute(sa.select(metrics.c.payload)).scalars())
        assert conn.execute(sa.select(sa.func.sum(screen_hours.c.intervals))).scalar() == 300
    store.purge(now=NOW + timedelta(days=store.retention_days + 30))  # frees the budget
    assert queries.counter_values(store.engine)["raw_bytes"] == kept_payload_bytes(store) == 0


def test_the_largest_metrics_message_the_bounds_allow_is_kept_whole(store):
    """The per-message cap never cuts a valid message: the model's bounds keep its
    canonical form under RAW_MAX_BYTES."""
    body = f.metrics(start=f.T0)
    body["impressions"] = {f"{i:03d}" + "c" * 61: {"plays": 10**6, "viewed": 10**6} for i in range(MAX_IMPRESSIONS)}
    labels = [f"{i:02d}" + "+" * 14 for i in range(16)]
    body["dwell"] = body["attention"] = {"buckets": labels, "counts": [10**6] * 16}
    body["distance"] = {f"{i:02d}" + "z" * 30: 10**6 for i in range(16)}
    body["expressions"] = {f"{i:02d}" + "e" * 30: 10**6 for i in range(16)}
    body |= {"passers": 10**6, "viewers": 10**6, "peak_faces": 1000, "frames": 2**31 - 1}
    item = parse("signage", "signage/lab/a/metrics", f.encode(body))
    store.write([item], now=NOW)
    with store.engine.begin() as conn:
        kept = conn.execute(sa.select(metrics.c.payload)).scalar()
    assert len(kept) <= RAW_MAX_BYTES and json.loads(kept)["impressions"] == body["impressions"]


def test_dead_letters_are_kept_bounded_and_purged(store, monkeypatch):
    monkeypatch.setattr(housekeeping, "DEAD_LETTER_ROWS", 3)
    bodies = [f.play(start=f.T0 + timedelta(seconds=i)) for i in range(5)]
    for i, body in enumerate(bodies):
        item = incoming(body, "play")
        received = item.raw + b" " * 20_000
        store.dead_letter(replace(item, raw=received, size=len(received)), f"Refused #{i}\x00", now=NOW)
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(dead_letters).order_by(dead_letters.c.row)).mappings().all()
    assert all(r["size"] > 20_000 and len(r["payload"]) == DEAD_LETTER_PAYLOAD and "\x00" not in r["reason"]
               for r in rows)
    assert store.purge(now=NOW)["dead_letters"] == 2  # the newest 3 stay
    assert count(store, dead_letters) == 3
    assert store.purge(now=NOW + timedelta(days=store.retention_days + 1))["dead_letters"] == 3
    assert queries.counter_values(store.engine)["dead_letters"] == 5  # the count stays


def test_database_url_forms(tmp_path, monkeypatch):
    from signage.fleet.database import database_url, default_db_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "signage" / "fleet.sqlite3"
    assert database_url(None) == f"sqlite:///{tmp_path}/signage/fleet.sqlite3"
    assert database_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert now_utc().tzinfo is None
