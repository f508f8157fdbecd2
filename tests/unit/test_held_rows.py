"""The held proof of play as rows (telemetry/spool/heldrows.py): a play held writes its
row only, a period released deletes its rows, what a crash leaves is restored, and an
older spool's single-row `held` table is read once, rewritten as rows and dropped."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signage.telemetry import held as held_module
from signage.telemetry.held import HeldCopy, assemble, decode, encode
from signage.telemetry.ledger import Ledger
from signage.telemetry.spool import Spool, SpoolFault
from signage.telemetry.spool import file as spool_file
from signage.telemetry.spool.heldrows import SCHEMA, HeldRows, has_legacy, write_held
from tests.support.held_plays import (HOUR, MIN_GROUP, TRACKS, counter, held_ledger, ledger, people, published,
                                      record, restored_and_released_or_refused)


class Recording:
    """A connection that counts the bytes of the statements' parameters it is given."""

    def __init__(self, db: sqlite3.Connection):
        self.db, self.written = db, 0

    def execute(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        self.written += sum(len(value) for value in parameters if isinstance(value, bytes))
        return self.db.execute(sql, parameters)

    def executemany(self, sql: str, rows: list) -> sqlite3.Cursor:
        self.written += sum(len(value) for row in rows for value in row if isinstance(value, bytes))
        return self.db.executemany(sql, rows)


def busy_hour(plays: int) -> Ledger:
    kept = ledger()
    kept.saw(TRACKS[:4], HOUR)
    for n in range(plays):
        kept.add(record(n % 60, f"idle-{n % 3}", people(4, 4), seconds=5.0), hold=True)
    return kept


def stored_rows(path) -> tuple[list[str], int, bool]:
    """The period rows, the number of play rows, and whether the old `held` table is there."""
    db = sqlite3.connect(path)
    try:
        periods = sorted(name for (name,) in db.execute("SELECT name FROM held_periods"))
        plays = db.execute("SELECT COUNT(*) FROM held_plays").fetchone()[0]
        return periods, plays, has_legacy(db)
    finally:
        db.close()


def test_a_play_held_in_a_busy_hour_writes_its_row_only():
    db = sqlite3.connect(":memory:")
    for table in SCHEMA:
        db.execute(table)
    held = busy_hour(100)
    before = encode(held, MIN_GROUP)
    write_held(db, None, before)
    held.add(record(59, "idle-0", people(4, 4), seconds=5.0), hold=True)
    after = encode(held, MIN_GROUP)
    recording = Recording(db)
    write_held(recording, before, after)  # type: ignore[arg-type]
    [new] = set(after.plays) - set(before.plays)
    assert recording.written == len(after.plays[new]), "the new play's row, nothing else"
    assert db.execute("SELECT COUNT(*) FROM held_plays").fetchone()[0] == 101


def test_a_released_hour_leaves_no_row(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    held, copy = busy_hour(5), HeldCopy(lambda rows: spool.write(held=rows))
    copy.update(held, MIN_GROUP)
    assert stored_rows(tmp_path / "spool.sqlite3") == (["day 2026-11-23T00:00:00", "form", "hour 2026-11-23T10:00:00"],
                                                      5, False)
    assert len(held.due(HOUR + dt.timedelta(hours=2), 30.0)) == 5
    copy.update(held, MIN_GROUP)
    assert stored_rows(tmp_path / "spool.sqlite3") == (["day 2026-11-23T00:00:00", "form"], 0, False)
    spool.close()


def test_an_hour_that_turns_quiet_keeps_its_plays_in_aggregate_only(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    held, copy = busy_hour(3), HeldCopy(lambda rows: spool.write(held=rows))
    copy.update(held, MIN_GROUP)
    held.add(record(30, "look", people(4, 4), audience=True), hold=True)
    copy.update(held, MIN_GROUP)
    assert stored_rows(tmp_path / "spool.sqlite3")[1] == 0, "no play row, no moment"
    [hour] = assemble(spool.held())["hours"]
    assert hour["aggregate"] == {"idle-0": [1, 5.0], "idle-1": [1, 5.0], "idle-2": [1, 5.0], "look": [1, 20.0]}
    spool.close()


def test_the_rows_a_crash_leaves_are_restored_as_held(tmp_path):
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    held, copy = busy_hour(7), HeldCopy(lambda rows: spool.write(held=rows))
    for n in range(3):  # plays held one at a time, as the kiosk holds them
        held.add(record(40 + n, "idle-1", people(4, 4)), hold=True)
        copy.update(held, MIN_GROUP)
    again = Spool(path)  # the process died: another opens the file
    restored = ledger()
    restored.restore(*decode(again.held(), MIN_GROUP))
    later = HOUR + dt.timedelta(hours=2)
    assert published(restored.due(later, 30.0)) == published(held.due(later, 30.0))
    again.close()
    spool.close()


def test_a_failed_write_changes_neither_the_messages_nor_the_held_rows(tmp_path, monkeypatch):
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    held = busy_hour(2)
    first = encode(held, MIN_GROUP)
    spool.write(held=first)
    held.add(record(50, "idle-2", people(4, 4)), hold=True)
    real = write_held

    def fails_midway(db, had, new):
        real(db, had, new)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(spool_file, "write_held", fails_midway)
    with pytest.raises(SpoolFault):
        spool.write([("t", b"released", 1, False)], (), encode(held, MIN_GROUP))
    monkeypatch.undo()
    spool.close()
    again = Spool(path)
    assert again.depth == 0 and again.held() == first, "neither the message nor the new play"
    again.close()


def legacy_body(kept: Ledger) -> bytes:
    """The single body an older version wrote: one document, version 1."""
    document = assemble(encode(kept, MIN_GROUP))
    document["version"] = held_module.LEGACY
    for hour in document["hours"]:
        hour.setdefault("plays", [])
    return json.dumps(document).encode()


def test_an_older_spool_is_read_once_rewritten_as_rows_and_its_table_dropped(tmp_path):
    path = tmp_path / "spool.sqlite3"
    Spool(path).close()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE held (name TEXT PRIMARY KEY, body BLOB NOT NULL)")
    db.execute("INSERT INTO held (name, body) VALUES ('ledger', ?)", (legacy_body(busy_hour(4)),))
    db.commit()
    db.close()
    spool = Spool(path)
    counting = counter(tmp_path, lambda rows: spool.write(held=rows))
    counting.restore(spool.held)
    assert counting.lost() is None
    periods, plays, legacy = stored_rows(path)
    assert plays == 4 and "hour 2026-11-23T10:00:00" in periods and not legacy, "rows now, the old table gone"
    spool.close()
    restored = ledger()
    again = Spool(path)
    restored.restore(*decode(again.held(), MIN_GROUP))
    later = HOUR + dt.timedelta(hours=2)
    assert published(restored.due(later, 30.0)) == published(busy_hour(4).due(later, 30.0))
    again.close()


def damaged_then_restored(tmp_path, path: Path, *statements: str) -> None:
    """`statements` run on the spool file; a counter then restores from it: what it held is
    lost and said, and the rows are replaced by the form alone."""
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()
    spool = Spool(path)
    counting = counter(tmp_path, lambda rows: spool.write(held=rows))
    counting.restore(spool.held)
    assert counting.lost() is not None and "held plays" in counting.lost()
    assert stored_rows(path) == (["form"], 0, False), "replaced, every row"
    spool.close()


def test_an_older_spools_unreadable_body_is_replaced_by_rows(tmp_path):
    path = tmp_path / "spool.sqlite3"
    Spool(path).close()
    damaged_then_restored(tmp_path, path, "CREATE TABLE held (name TEXT PRIMARY KEY, body BLOB NOT NULL)",
                          "INSERT INTO held (name, body) VALUES ('ledger', x'00ff')")


@pytest.mark.parametrize("periods, plays, where", [
    ({"form": b"{not json"}, {}, "'form' is not JSON"),
    ({"form": b'{"version": 2, "min_group": 3}', "week 1": b"{}"}, {}, "a row named 'week 1'"),
    ({"form": b'{"version": 2, "min_group": 3}'}, {("hour 2026-11-23T10:00:00", 0): b'{"creative": "x"}'},
     "hours.0.plays.0.seconds"),
    ({"form": b'{"version": 1, "min_group": 3}'}, {}, "version 1 is not 2"),
    ({"hour 2026-11-23T10:00:00": b"{}"}, {}, "version"),
])
def test_rows_that_cannot_be_read_say_what_and_where(periods, plays, where):
    with pytest.raises(held_module.HeldUnreadable) as raised:
        decode(HeldRows(periods, plays), MIN_GROUP)
    assert where in str(raised.value)


def test_a_quiet_hour_of_rows_keeps_its_passers_and_no_play(tmp_path):
    rows = encode(held_ledger(TRACKS[:1]), MIN_GROUP)
    assert not rows.plays
    assert json.loads(rows.periods["hour 2026-11-23T10:00:00"])["passers"] == 1


def test_rows_damaged_on_disk_are_lost_and_replaced_not_a_traceback(tmp_path):
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    spool.write(held=encode(busy_hour(2), MIN_GROUP))
    spool.close()
    damaged_then_restored(tmp_path, path, "UPDATE held_plays SET n = 'x' || n, body = 7",
                          "UPDATE held_periods SET name = CAST(name AS BLOB), body = x'00' WHERE name LIKE 'hour%'")


_text = st.binary(max_size=60) | st.sampled_from([b"{}", b"[]", b"null", b'{"version": 2, "min_group": 3}',
                                                  b'{"start": "2026-11-23T10:00:00", "passers": 2}'])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["form", "hour 2026-11-23T10:00:00", "day 2026-11-23T00:00:00", "x"]),
                       _text, max_size=4),
       st.dictionaries(st.tuples(st.sampled_from(["hour 2026-11-23T10:00:00", "hour ?", "day 1"]),
                                 st.integers(-2, 3)), _text, max_size=4))
def test_any_rows_are_restored_and_released_or_refused_with_a_reason(periods, plays):
    restored_and_released_or_refused(lambda: decode(HeldRows(periods, plays), MIN_GROUP))
