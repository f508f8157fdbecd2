"""One SQLite spool file: its schema, its durability, its counters, its transactions.

SQLite in WAL mode with `synchronous=FULL`: a transaction that commits is fsync'd and
survives a power cut. Rows are numbered by AUTOINCREMENT, so a number is never reused.
The message count and size are kept in memory, so status never needs a query; the count
of messages dropped at the size cap is kept in the file, so it survives a restart.

The `held_periods` and `held_plays` tables keep the proof of play the kiosk holds back
until its period is released (heldrows.py; telemetry/held.py makes the rows): the rows
that changed are written in the same transaction as the messages sent before them, so a
power cut never leaves a play both released and held, or neither. They are made on first
open, also in a spool file from an older version (whose single-row `held` table is read
once and dropped by the first write).

Raises `sqlite3.Error`: the Spool around it sorts them into its faults.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

from signage.telemetry.spool.faults import SpoolUnavailable
from signage.telemetry.spool.heldrows import SCHEMA, HeldRows, read_held, write_held
from signage.telemetry.spool.salvage import MAGIC, Salvaged

_SIZE = "LENGTH(payload) + LENGTH(topic)"
Message = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


def problem_of(path: Path) -> str | None:
    """Why the file at `path` cannot be a spool, from a look at it (no SQLite); None if it may be."""
    if path.is_dir():
        return "a directory is in the way"
    try:
        with open(path, "rb") as handle:
            start = handle.read(16)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SpoolUnavailable(f"cannot read the spool {path}: {exc.strerror}") from exc
    if start and start != MAGIC:
        return "not an SQLite file"
    return None


class SpoolFile:
    def __init__(self, path: str):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a power cut
            self.db.execute("CREATE TABLE IF NOT EXISTS messages (row INTEGER PRIMARY KEY AUTOINCREMENT,"
                            " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
                            " retain INTEGER NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            for table in SCHEMA:
                self.db.execute(table)
            self._held: HeldRows | None = None  # the held rows on disk, once read: what a write changes
            self._held_known = False
            self._held_written = False  # until then a write replaces every held row (heldrows.py)
            self.count = self.size = self.dropped = self.sequence = 0
            self.load_counters()
        except BaseException:
            self.close()
            raise

    def load_counters(self) -> None:
        """From what is on disk: messages, their size, the dropped count, the highest row."""
        db = self.db
        self.count, self.size = db.execute(f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) FROM messages").fetchone()
        found = db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        self.dropped = found[0] if found else 0
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        self.sequence = sequence[0] if sequence else 0

    def quick_check(self) -> str | None:
        """None when SQLite finds the file sound, else its first complaint."""
        check = self.db.execute("PRAGMA quick_check").fetchall()
        return None if check == [("ok",)] else f"quick_check: {check[0][0]}"[:200]

    def raise_sequence(self, highest: int) -> None:
        """New rows are numbered above `highest`."""
        self.db.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'messages'", (highest,))
        if self.db.execute("SELECT changes()").fetchone()[0] == 0 and highest:
            self.db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (highest,))
        self.sequence = max(self.sequence, highest)

    def write(self, messages: Sequence[Message], acked: Iterable[int], max_bytes: int,
              held: HeldRows | None = None) -> tuple[list[int], int]:
        """Delete `acked`, insert `messages`, then drop the oldest rows while the file holds
        more than `max_bytes`, and make the held proof of play `held` (if given; only its
        rows that changed are written): one transaction. (new row numbers, rows dropped);
        on an error nothing has changed."""
        acked = list(acked)
        db = self.db
        rows: list[int] = []
        count, size, dropped = self.count, self.size, 0
        try:
            db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(acked), 500):  # a statement per chunk, not per row
                chunk = acked[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found, found_size = db.execute(f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) FROM messages"
                                               f" WHERE row IN ({marks})", chunk).fetchone()
                db.execute(f"DELETE FROM messages WHERE row IN ({marks})", chunk)
                count, size = count - found, size - found_size
            for topic, payload, qos, retain in messages:
                cursor = db.execute("INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                                    (topic, payload, qos, int(retain)))
                rows.append(_row_of(cursor))
                count, size = count + 1, size + len(payload) + len(topic)  # as SQL LENGTH() counts
            if size > max_bytes:
                dropped, count, size = self._drop_oldest(count, size, max_bytes)
            if held is not None:
                write_held(db, self._held if self._held_written else None, held)
            db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        if held is not None:
            self._held, self._held_known, self._held_written = held, True, True
        self.count, self.size, self.dropped = count, size, self.dropped + dropped
        if rows:
            self.sequence = max(self.sequence, rows[-1])
        return rows, dropped

    def _drop_oldest(self, count: int, size: int, max_bytes: int) -> tuple[int, int, int]:
        dropped = 0
        for row, row_size in self.db.execute(f"SELECT row, {_SIZE} FROM messages ORDER BY row").fetchall():
            if size <= max_bytes * 0.9:  # leave headroom so we do not drop on every put
                break
            self.db.execute("DELETE FROM messages WHERE row = ?", (row,))
            count, size, dropped = count - 1, size - row_size, dropped + 1
        self.db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (dropped,))
        return dropped, count, size

    def copy_in(self, found: Salvaged, held: bool = True) -> list[int]:
        """The rows salvaged from a damaged file, in one transaction; the numbers inserted.
        A row number already taken by the same message (a copy interrupted after its
        commit) is skipped; taken by another message, the salvaged one gets a new number:
        nothing readable is lost, nothing is sent twice from here. With `held`, its held
        proof of play too, unless this file has one already (newer)."""
        db = self.db
        inserted = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for row in sorted(found.rows):
                topic, payload, qos, retain = found.rows[row]
                there = db.execute("SELECT topic, payload, qos, retain FROM messages WHERE row = ?",
                                   (row,)).fetchone()
                if there is None:
                    db.execute("INSERT INTO messages (row, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?)",
                               (row, topic, payload, qos, retain))
                    inserted.append(row)
                elif tuple(there) != (topic, payload, qos, int(retain)):
                    inserted.append(_row_of(db.execute("INSERT INTO messages (topic, payload, qos, retain) "
                                                       "VALUES (?, ?, ?, ?)", (topic, payload, qos, retain))))
            self._held_known = self._held_written = False  # (read again after this, whatever happens)
            if held and found.held is not None and read_held(db) is None:
                write_held(db, None, found.held)
            if found.dropped:
                db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                           "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)", (found.dropped,))
            db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        return inserted

    def held(self) -> HeldRows | None:
        """The held proof of play last written, None if none ever was (read from the file
        once, then known: the writes go through here)."""
        if not self._held_known:
            self._held, self._held_known = read_held(self.db), True
        return self._held or None

    def oldest(self, limit: int, after: int) -> list[tuple[int, str, bytes, int, bool]]:
        return [(row, topic, bytes(payload), qos, bool(retain)) for row, topic, payload, qos, retain in
                self.db.execute("SELECT row, topic, payload, qos, retain FROM messages WHERE row > ?"
                                " ORDER BY row LIMIT ?", (after, limit)).fetchall()]

    def rollback(self) -> None:
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolls back by itself when it cannot

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass


def _row_of(cursor: sqlite3.Cursor) -> int:
    """The row number an INSERT just gave (sqlite3 leaves lastrowid None only before one)."""
    if cursor.lastrowid is None:
        raise sqlite3.InterfaceError("no row number after an INSERT")
    return cursor.lastrowid
