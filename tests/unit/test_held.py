"""Held proof of play across a restart (telemetry/held.py): the ledger's snapshot and
restore, what the spool keeps of it (no person, no moment of an audience play), a body
that cannot be read, and the hold that writes it after the messages sent before it."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signage.telemetry.held import HeldCopy, HeldUnreadable, assemble, decode, encode
from signage.telemetry.hold import Hold
from signage.telemetry.ledger import Ledger, Totals
from signage.telemetry.spool import Spool
from signage.telemetry.spool.heldrows import HeldRows
from tests.hostile import spools
from tests.support.held_plays import (HOUR, MIN_GROUP, TRACKS, counter, held_ledger, ledger, people, published,
                                      record, restored_and_released_or_refused, schedule_only)

def text_of(rows: HeldRows) -> str:
    """Every byte the rows put on disk, as text."""
    return " ".join(body.decode() for body in [*rows.periods.values(), *rows.plays.values()])


def rows(name: str) -> HeldRows:
    """Rows that stand for a body, for the spool's own tests."""
    return HeldRows({"form": name.encode()})


def restored(original: Ledger) -> Ledger:
    again = ledger()
    again.restore(*decode(encode(original, MIN_GROUP), MIN_GROUP))
    return again


@pytest.mark.parametrize("made, passers", [
    (schedule_only, TRACKS[:4]), (schedule_only, TRACKS[:1]), (held_ledger, TRACKS[:1]), (held_ledger, [])],
    ids=["busy, the schedule", "one passer, the schedule", "one passer, audience plays", "nobody, audience plays"])
def test_a_restored_ledger_releases_what_the_original_would(made, passers):
    """(A busy hour with audience plays is released per creative once restored: the next test.)"""
    later = HOUR + dt.timedelta(hours=2)
    assert published(restored(made(passers)).due(later, 30.0)) == published(made(passers).due(later, 30.0))
    assert published(restored(made(passers)).due(later, final=True)) == \
        published(made(passers).due(later, final=True))


def test_an_hour_that_ended_while_the_kiosk_was_down_is_released_at_once():
    again = restored(held_ledger(TRACKS[:4]))
    assert again.due(HOUR + dt.timedelta(minutes=59), 30.0) == [], "still within the hour: held"
    out = again.due(HOUR + dt.timedelta(hours=3), 30.0)
    assert [(item.period, item.creatives) for item in out if isinstance(item, Totals) and item.period == "hour"] \
        == [("hour", {"idle-a": (2, 40.0), "idle-b": (1, 20.0), "look": (2, 40.0)})], \
        "an hour with audience plays: every play, per creative for the hour"
    assert all(isinstance(item, Totals) for item in out), "no play of it on its own"


def test_the_spool_never_keeps_a_person_nor_the_moment_of_an_audience_play():
    body = encode(held_ledger(TRACKS[:5]), MIN_GROUP)
    assert not any(str(track) in text_of(body) for track in TRACKS), "no track number"
    assert not body.plays, "no play row"
    found = assemble(body)
    assert found["hours"][0]["passers"] == MIN_GROUP, "counted up to min_group: all the release needs"
    assert "plays" not in found["hours"][0], "an hour with audience plays: no moment"
    assert found["hours"][0]["aggregate"] == {"idle-a": [2, 40.0], "idle-b": [1, 20.0], "look": [2, 40.0]}
    schedule = assemble(encode(schedule_only(TRACKS[:5]), MIN_GROUP))
    plays = schedule["hours"][0]["plays"]
    assert [(play["creative"], play["start"][11:16]) for play in plays] == [("idle-a", "10:02"), ("idle-b", "10:03")]
    assert not any(str(track) in json.dumps(schedule) for track in TRACKS), "no track number"
    [alone] = [play for play in plays if play["creative"] == "idle-b"]
    assert alone["ots"] is None and alone["viewers"] is None and alone["expressions"] is None
    assert alone["peak_faces"] == alone["looking_seconds"] == 0, "no figure its message would withhold"


def test_a_period_whose_count_was_lost_is_quiet():
    body = encode(held_ledger(TRACKS[:4]), MIN_GROUP)
    counted = {name: json.loads(text) for name, text in body.periods.items()}
    for period in counted.values():
        period.pop("passers", None)
    again = ledger()
    again.restore(*decode(HeldRows({name: json.dumps(period).encode() for name, period in counted.items()},
                                   body.plays), MIN_GROUP))
    out = again.due(HOUR + dt.timedelta(days=2), 30.0)
    assert [item.period for item in out] == ["day"], "the hour hands its plays to the day"
    assert set(out[0].creatives) == {"audience"}, "a quiet day: only seconds, under audience"
    assert out[0].creatives["audience"][1] == pytest.approx(100.0)


def test_restored_passers_join_the_people_who_come_after_the_restart():
    kept = ledger()
    kept.saw(TRACKS[:2], HOUR + dt.timedelta(minutes=1))
    kept.add(record(2, "look", people(1, 1), audience=True), hold=True)
    again = restored(kept)
    again.saw([TRACKS[5]], HOUR + dt.timedelta(minutes=30))  # a third person, after the restart
    out = again.due(HOUR + dt.timedelta(hours=2), 30.0)
    assert [(item.period, item.creatives) for item in out] == [("hour", {"look": (1, 20.0)})]


def test_a_snapshot_made_with_another_min_group_is_restored_in_aggregate_only():
    again = ledger(4)
    again.restore(*decode(encode(schedule_only(TRACKS[:5]), MIN_GROUP), 4))
    again.saw(TRACKS[:4], HOUR + dt.timedelta(minutes=30))
    out = again.due(HOUR + dt.timedelta(hours=2), 30.0)
    assert all(isinstance(item, Totals) for item in out), "no play on its own, under a verdict of the old minimum"
    assert sum(plays for plays, _ in out[0].creatives.values()) == 2


@pytest.mark.parametrize("body, where", [
    (b"\x00\xffnot json", "the body"),
    (b'{"version": 1, "min_group": 3, "hours": [{"start": "2026-11-23T10:00:00", "passers": -2}]}',
     "hours.0.passers"),
    (b'{"version": 1, "min_group": 3, "hours": [{"start": "2026-11-23T10:00:00", "plays": '
     b'[{"creative": "look", "seconds": 3, "rule": "r", "start": "yesterday", "end": "x"}]}]}',
     "hours.0.plays.0.start"),
    (b'{"version": 1, "min_group": 3, "hours": [{"start": "2026-11-23T10:00:00", "aggregate": '
     b'{"look": [-1, 3]}}]}', "hours.0.aggregate.look.0"),
    (b'{"version": 9, "min_group": 3}', "version 9"),
])
def test_a_body_that_cannot_be_read_says_what_and_where(body, where):
    with pytest.raises(HeldUnreadable) as raised:
        decode(body, MIN_GROUP)
    assert where in str(raised.value)


def test_an_unreadable_body_costs_only_the_held_plays(tmp_path, caplog):
    kept: list[bytes] = []
    counting = counter(tmp_path, kept.append)
    counting.restore(lambda: b'{"version": 1, "min_group": 3, "hours": "garbage"}')
    assert "cannot be restored" in caplog.text and "hours" in caplog.text, "the journal says what"
    assert counting.lost() is not None and "held plays" in counting.lost(), "status says it"
    assert kept and assemble(kept[-1])["hours"] == [], "the next rows replace the unreadable body"


def test_a_readable_body_is_restored_and_kept_again(tmp_path):
    kept: list[bytes] = []
    counting = counter(tmp_path, kept.append)
    counting.restore(lambda: encode(held_ledger(TRACKS[:4]), MIN_GROUP))
    assert counting.lost() is None
    hours, _ = counting.ledger.snapshot()
    assert len(hours[0].plays) == 5 and hours[0].passers == MIN_GROUP
    assert kept[-1] == encode(counting.ledger, MIN_GROUP)


def test_a_body_is_kept_only_when_the_held_periods_change():
    kept: list[bytes] = []
    copy, held = HeldCopy(kept.append), ledger()
    copy.update(held, MIN_GROUP)
    for track in TRACKS:
        held.saw([track], HOUR)
        copy.update(held, MIN_GROUP)
    assert len(kept) == 1 + MIN_GROUP, "each passer up to min_group, then nothing new to keep"
    held.add(record(2, "look", people(1, 1), audience=True), hold=True)
    copy.update(held, MIN_GROUP)
    copy.update(held, MIN_GROUP)
    assert len(kept) == 2 + MIN_GROUP


def test_the_spool_writes_the_body_with_the_messages_and_keeps_it(tmp_path):
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    assert spool.held() is None
    spool.write([("t", b"released", 1, False)], (), rows("body-1"))
    spool.write((), (), rows("body-2"))
    spool.close()
    again = Spool(path)
    assert again.held() == rows("body-2") and again.depth == 1
    again.close()


def test_a_spool_from_before_the_held_table_gets_it(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE messages (row INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
               " payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT INTO messages (topic, payload, qos, retain) VALUES ('t', x'7b7d', 1, 0)")
    db.commit()
    db.close()
    spool = Spool(path)
    assert spool.held() is None and spool.depth == 1
    spool.write((), (), rows("body"))
    assert spool.held() == rows("body") and [m.payload for m in spool.oldest(10)] == [b"{}"]
    spool.close()


def test_the_hold_gives_the_body_only_with_the_messages_sent_before_it():
    hold = Hold(100, 1 << 20)
    hold.add("t", b"released", 1)
    hold.keep(b"body")
    hold.add("t", b"after", 1)
    assert hold.kept_with(0) is None, "the released message is not stored yet"
    kept = hold.kept_with(1)
    assert kept is not None and kept.body == b"body", "with the batch that stores it"
    hold.drop_through(1)
    hold.keep(b"newer")
    hold.stored(kept)
    assert hold.kept, "a newer body stays until it is stored"


def test_a_quiet_hour_keeps_no_moment_on_disk():
    body = encode(held_ledger(TRACKS[:2]), MIN_GROUP)
    assert not body.plays and not any(f"10:0{minute}" in text_of(body) for minute in range(2, 7)), "no play's time"
    [hour] = assemble(body)["hours"]
    assert "plays" not in hour and hour["passers"] == 2
    assert hour["aggregate"] == {"idle-a": [2, 40.0], "idle-b": [1, 20.0], "look": [2, 40.0]}


def test_a_quiet_hour_restored_then_filled_releases_its_plays_per_creative():
    again = restored(held_ledger(TRACKS[:2]))
    again.saw([TRACKS[5]], HOUR + dt.timedelta(minutes=30))
    out = again.due(HOUR + dt.timedelta(hours=2), 30.0)
    assert [(item.period, item.creatives) for item in out] == \
        [("hour", {"idle-a": (2, 40.0), "idle-b": (1, 20.0), "look": (2, 40.0)})], "every play, attributed"


@pytest.mark.parametrize("damage", ["a page of garbage", "a garbage header"])
def test_a_damaged_spool_keeps_its_held_plays_when_they_can_be_read(tmp_path, damage):
    path = tmp_path / "spool.sqlite3"
    written = spools.good_spool(path, count=300)
    spool = Spool(path)
    spool.write((), (), rows("before the damage"))
    spool.close()
    data = bytearray(path.read_bytes())
    if damage == "a page of garbage":
        start = (len(data) // spools.PAGE // 2) * spools.PAGE
        data[start:start + spools.PAGE] = b"\xa5" * spools.PAGE
    else:
        data[:100] = b"\x5a" * 100
    path.write_bytes(bytes(data))
    rebuilt = Spool(path)
    assert rebuilt.recovery is not None, "the damaged file was rebuilt"
    assert rebuilt.held() == rows("before the damage")
    assert 0 < rebuilt.depth <= len(written)
    rebuilt.close()


def test_a_stop_saves_the_newest_held_plays_with_the_messages_sent_before_them(tmp_path):
    from signage.config import MqttConfig
    from signage.telemetry.mqtt import Telemetry

    device = Telemetry(MqttConfig(url="mqtt://127.0.0.1:9"), "lab", "sd", tmp_path / "spool.sqlite3")
    device.start()
    device.keep_held(rows("first"))
    device.send("totals", {"id": "released"})
    device.keep_held(rows("after the release"))
    device.stop(timeout=2.0)
    spool = Spool(tmp_path / "spool.sqlite3")
    try:
        assert spool.held() == rows("after the release")
        assert [json.loads(m.payload)["id"] for m in spool.oldest(10)] == ["released"]
    finally:
        spool.close()


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) |
                     st.text(max_size=30), lambda inner: st.lists(inner, max_size=4) |
                     st.dictionaries(st.sampled_from(["version", "min_group", "hours", "days", "start", "passers",
                                                      "plays", "aggregate", "held", "creative", "seconds", "rule",
                                                      "end", "ots", "viewers", "expressions", "look"]),
                                     inner, max_size=6), max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=200), _json.map(lambda value: json.dumps(value).encode()),
                 _json.map(lambda value: json.dumps({"version": 1, "min_group": 3, "hours": [
                     {"start": "2026-11-23T10:00:00", "passers": 2, "plays": [value]}]}).encode()),
                 _json.map(lambda value: json.dumps({"version": 1, "min_group": 3, "hours": [value],
                                                     "days": [value]}).encode()),
                 st.tuples(st.text(max_size=70) | st.sampled_from(["look", "idle-a"]),
                           st.text(max_size=70) | st.sampled_from(["default", "happy", "someone"]),
                           st.floats(0, 1e9), st.integers(0, 10**6),
                           st.sampled_from(["duration", "stopped", "nope"])).map(lambda drawn: json.dumps({
                               "version": 1, "min_group": 3,
                               "hours": [{"start": "2026-11-23T10:00:00", "passers": 3, "plays": [
                                   {"creative": drawn[0], "rule": drawn[1], "seconds": drawn[2],
                                    "start": "2026-11-23T10:01:00Z", "end": "2026-11-23T10:00:00Z",
                                    "ots": drawn[3], "viewers": drawn[3], "expressions": {drawn[1]: drawn[2]},
                                    "ended": drawn[4]}],
                                   "aggregate": {drawn[0]: [drawn[3], drawn[2]]}}],
                               "days": [{"start": "2026-11-23T00:00:00", "held": {drawn[1]: [drawn[3], drawn[2]]}}]
                           }).encode())))
def test_any_body_is_restored_and_released_or_refused_with_a_reason(body):
    restored_and_released_or_refused(lambda: decode(body, MIN_GROUP))
