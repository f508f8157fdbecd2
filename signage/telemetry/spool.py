"""The on-disk spool: every outgoing message waits here until the broker acknowledges it.

SQLite in WAL mode: a write is one transaction, so a power cut mid-write leaves the
previous state intact (never a corrupt file); synchronous=NORMAL skips the fsync per
commit, which at worst loses the last moments before a power cut, not the file. Rows
come out in insertion order. When the spool outgrows its cap the oldest rows go first
and a persistent counter says how many.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spooled:
    row: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Spool:
    def __init__(self, path: Path | str, max_bytes: int = 64 << 20):
        self.path = str(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # paho's thread acknowledges, the telemetry thread reads
        self._dropping = False
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS messages (row INTEGER PRIMARY KEY AUTOINCREMENT,"
                         " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
                         " retain INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._bytes = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0)"
                                       " FROM messages").fetchone()[0]

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Store a message; raises sqlite3.Error (e.g. disk full) for the caller to report."""
        size = len(payload) + len(topic)
        with self._lock:
            # One INSERT in autocommit mode is one atomic transaction.
            cursor = self._db.execute("INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                                      (topic, payload, qos, int(retain)))
            self._bytes += size
            if self._bytes > self.max_bytes:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._drop_oldest()
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._bytes = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload) + LENGTH(topic)), 0)"
                                                   " FROM messages").fetchone()[0]
                    raise
            return cursor.lastrowid

    def _drop_oldest(self) -> None:
        dropped = 0
        for row, size in self._db.execute("SELECT row, LENGTH(payload) + LENGTH(topic) FROM messages ORDER BY row"):
            if self._bytes <= self.max_bytes * 0.9:  # leave headroom so we do not drop on every put
                break
            self._db.execute("DELETE FROM messages WHERE row = ?", (row,))
            self._bytes -= size
            dropped += 1
        self._db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                         "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (dropped,))
        if not self._dropping:  # one line when the spool fills up, not one per message
            logger.warning("spool full (%d bytes): dropping the oldest messages; the count is in status",
                           self.max_bytes)
            self._dropping = True

    def oldest(self, limit: int, after: int = 0) -> list[Spooled]:
        """Up to `limit` messages in order, starting after row `after`."""
        with self._lock:
            rows = self._db.execute("SELECT row, topic, payload, qos, retain FROM messages WHERE row > ?"
                                    " ORDER BY row LIMIT ?", (after, limit)).fetchall()
        return [Spooled(row, topic, bytes(payload), qos, bool(retain)) for row, topic, payload, qos, retain in rows]

    def ack(self, *rows: int) -> None:
        """Delete acknowledged messages, several in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for row in rows:
                found = self._db.execute("DELETE FROM messages WHERE row = ? RETURNING LENGTH(payload) + LENGTH(topic)",
                                         (row,)).fetchone()
                if found:
                    self._bytes -= found[0]
            self._db.execute("COMMIT")
            if self._dropping and self._bytes < self.max_bytes / 2:
                self._dropping = False
                logger.info("spool below half full again")

    @property
    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    @property
    def dropped(self) -> int:
        with self._lock:
            found = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return found[0] if found else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
