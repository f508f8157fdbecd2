"""The held proof of play as the spool keeps it: a row per period, a row per play.

telemetry/held.py makes the rows; the spool writes only the difference from what the file
has (a play held: one row; a period released: its rows deleted), in the transaction of
the messages sent before it (file.py), so the SD card is written in proportion to what
changed, not the whole held hour again after every play.

`held_periods` has one small row per held period (its count up to min_group, and what
it may keep only in aggregate) and one named `form` (the version and min_group);
`held_plays` one row per play held one by one, by its hour and number. A spool from an
older version kept it all in one row of a `held` table: it is read once (`legacy`) and
dropped by the first write of the new rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Mapping

PlayKey = tuple[str, int]  # (the hour's period name, the play's number in it)
SCHEMA = ("CREATE TABLE IF NOT EXISTS held_periods (name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
          "CREATE TABLE IF NOT EXISTS held_plays (hour TEXT NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL,"
          " PRIMARY KEY (hour, n)) WITHOUT ROWID")  # (no second index to write: a page per play)


@dataclass(frozen=True)
class HeldRows:
    """What the spool keeps of the held plays; `legacy` is an older spool's single body."""

    periods: Mapping[str, bytes] = field(default_factory=dict)
    plays: Mapping[PlayKey, bytes] = field(default_factory=dict)
    legacy: bytes | None = None

    def __bool__(self) -> bool:
        return bool(self.periods or self.plays or self.legacy is not None)


def has_legacy(db: sqlite3.Connection) -> bool:
    return "held" in _tables(db)


def read_held(db: sqlite3.Connection) -> HeldRows | None:
    """The rows the file has (also one from before these tables), None if it holds none.
    Raises sqlite3.Error."""
    tables = _tables(db)
    periods, plays, legacy = {}, {}, None
    if "held_periods" in tables and "held_plays" in tables:
        periods = {str(name): _bytes(body) for name, body in db.execute("SELECT name, body FROM held_periods")}
        found = db.execute("SELECT hour, n, body FROM held_plays").fetchall()
        # (a number that is not one only orders its play first: its body is checked all the same)
        plays = {(str(hour), n if isinstance(n, int) else -1 - i): _bytes(body)
                 for i, (hour, n, body) in enumerate(found)}
    if not periods and not plays and "held" in tables:
        found = db.execute("SELECT body FROM held WHERE name = 'ledger'").fetchone()
        legacy = None if found is None else _bytes(found[0])
    rows = HeldRows(periods, plays, legacy)
    return rows if rows else None


def write_held(db: sqlite3.Connection, had: HeldRows | None, new: HeldRows) -> None:
    """Turn the file's rows from `had` into `new`, inside the caller's transaction: only
    the rows that differ are written or deleted. With `had` None (not written through
    here yet) every row is replaced: whatever a damaged file held goes. The older
    single-row table is dropped."""
    if had is None:
        db.execute("DELETE FROM held_periods")
        db.execute("DELETE FROM held_plays")
    old = had or HeldRows()
    gone_periods = [(name,) for name in old.periods if name not in new.periods]
    gone_plays = [key for key in old.plays if key not in new.plays]
    db.executemany("DELETE FROM held_periods WHERE name = ?", gone_periods)
    db.executemany("DELETE FROM held_plays WHERE hour = ? AND n = ?", gone_plays)
    db.executemany("INSERT OR REPLACE INTO held_periods (name, body) VALUES (?, ?)",
                   [(name, body) for name, body in new.periods.items() if old.periods.get(name) != body])
    db.executemany("INSERT OR REPLACE INTO held_plays (hour, n, body) VALUES (?, ?, ?)",
                   [(hour, n, body) for (hour, n), body in new.plays.items() if old.plays.get((hour, n)) != body])
    if has_legacy(db):
        db.execute("DROP TABLE held")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def _bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()  # not JSON text: held.py refuses it, saying where
