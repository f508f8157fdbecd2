"""The on-disk spool: every outgoing message waits here until the broker acknowledges it.

Durability. SQLite in WAL mode with `synchronous=FULL`: when `write`, `put`,
`put_many` or `ack` return, their transaction is fsync'd and survives a power cut
(power cuts are the kiosk's most common fault). An fsync per message would cap a burst
at the disk's fsync rate, so writes are grouped: one call is one transaction, whatever
it carries. The telemetry pump (`mqtt.Telemetry`) is the one writer: each of its steps
writes every message queued since the previous step together with the deletions the
broker acknowledged, in one transaction (group commit). A message therefore counts as
durable when the pump's transaction holding it commits, normally milliseconds after
`Telemetry.send`; until then it is held in memory and counted (`held` in status).

Order. Rows come out in insertion order (AUTOINCREMENT row numbers, never reused; a
caller that knows higher numbers from an earlier object passes `min_row`, so a row number
it handed to the broker never names another message).
When the spool outgrows `max_bytes` the oldest rows go first and a persistent counter
says how many.

Faults. Every `sqlite3.Error` is sorted by `classify`: "corrupt" (the file is damaged:
`rebuild` moves it aside, keeps it for forensics, and copies every row that can still
be read into a new file, keeping their row numbers; the damaged file is named *.pending
until its rows are committed in a spool, so a copy the disk or a power cut interrupted is
finished at the next open; a file the machine stopped us reading in full (an I/O error, no
room for a repaired copy) stays *.pending too. Every pending file is copied at each open,
oldest first; pending files are never deleted. Of the files whose rows are copied the newest
MAX_ASIDE are kept for forensics, older ones are deleted), or "full"/"io" (disk full, I/O
error, read-only: nothing was written, the caller keeps the messages and retries).
An OSError met while rebuilding (moving the file aside, reading it) raises SpoolUnavailable
too: the caller drops this object and opens the path again later.
At open, the header is checked and `PRAGMA quick_check` runs (a boot-time cost that
grows with the spool: 0.2 s for a full 64 MB spool, 88 MB on disk, on the development
machine's SSD; expect a few times that on an SD card); a damaged file is rebuilt at once. A spool that cannot be opened at all (the path is a
non-empty directory, no permission, the disk is full) raises `SpoolUnavailable`.

Threads: the methods take a lock, so a test or the stopping thread may read while the
pump works; in the product only the pump thread uses the spool while it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from signage.errors import SignageError
from signage.telemetry.salvage import MAGIC, Salvaged, salvage

logger = logging.getLogger(__name__)

_SIZE = "LENGTH(payload) + LENGTH(topic)"
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_FULL_CODES = {sqlite3.SQLITE_FULL}
PENDING = ".pending"  # a damaged file moved aside whose readable rows are not yet in a spool
COMPANIONS = ("-wal", "-shm", "-journal")
MAX_ASIDE = 3  # damaged files kept for forensics once their rows are copied
_ASIDE_NAME = re.compile(r"\.corrupt-(\d{8}T\d{6}Z)(?:-(\d+))?(?:\.pending)?$")


class SpoolUnavailable(SignageError):
    """The spool file cannot be opened or created at all."""


@dataclass(frozen=True)
class Spooled:
    row: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class Recovery:
    """A damaged spool file that was moved aside and read into a new one."""

    reason: str
    aside: str  # where the damaged file now is
    recovered: int  # rows copied into the new spool
    incomplete: bool  # part of the damaged file's content could not be read
    blocked: str | None = None  # the machine stopped the reading: the file stays pending, read again

    def describe(self) -> str:
        lost = "; part of it was unreadable" if self.incomplete else ""
        if self.blocked:
            lost += f"; it could not be read in full ({self.blocked}): kept and read again at the next open"
        return f"{self.recovered} messages kept from a damaged spool ({self.reason}), moved to {self.aside}{lost}"


def classify(exc: sqlite3.Error) -> str:
    """'corrupt', 'full' or 'io' (any other failure to read or write)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc).lower()
    if code in _CORRUPT_CODES or "malformed" in text or "not a database" in text:
        return "corrupt"
    if code in _FULL_CODES or "disk is full" in text or "disk full" in text:
        return "full"
    return "io"


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Spool:
    def __init__(self, path: Path | str, max_bytes: int = 64 << 20, min_row: int = 0):
        """min_row: new rows are numbered above it (the caller handed out rows up to it)."""
        self.path = str(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._dropping = False
        self._db: sqlite3.Connection | None = None
        self._count = self._bytes = self._dropped = 0
        self._highest = 0  # highest row number ever handed out (also across a rebuild)
        self._min_row = min_row
        self._lowest_adopted: int | None = None  # lowest row copied in from an older pending file
        self.recovery: Recovery | None = None
        try:
            self._open()
        except OSError as exc:  # EIO, EACCES... from a file system call around SQLite
            self._close_db()
            raise SpoolUnavailable(f"cannot open the spool {self.path}: {exc.strerror or describe(exc)}") from exc
        self._lowest_adopted = None  # a new object's reader starts from its first row anyway

    # ----- opening, checking, rebuilding -------------------------------------------------------

    def _open(self) -> None:
        if self.path == ":memory:":
            self._connect()
            return
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolUnavailable(f"cannot create the spool folder {path.parent}: {exc.strerror}") from exc
        problem = self._problem_of(path)
        if problem is None:
            try:
                self._connect()
                check = self._db.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    problem = f"quick_check: {check[0][0]}"[:200]
            except sqlite3.Error as exc:
                if classify(exc) != "corrupt":
                    self._close_db()
                    raise SpoolUnavailable(f"cannot open the spool {path}: {describe(exc)}") from exc
                problem = describe(exc)
        if problem is not None:
            self._close_db()
            self._rebuild(problem)
        else:
            self._adopt_pending()
            self._raise_sequence_or_close(self._min_row)

    def _raise_sequence(self, highest: int) -> None:
        """Row numbers never go back: new rows are numbered above `highest`."""
        db = self._database()
        db.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'messages'", (highest,))
        if db.execute("SELECT changes()").fetchone()[0] == 0 and highest:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (highest,))
        self._highest = max(self._highest, highest)

    def _raise_sequence_or_close(self, highest: int) -> None:
        if highest <= self._highest:
            return
        try:
            self._raise_sequence(highest)
        except sqlite3.Error as exc:
            self._close_db()
            raise SpoolUnavailable(f"cannot number the rows of the spool {self.path}: {describe(exc)}") from exc

    @staticmethod
    def _problem_of(path: Path) -> str | None:
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

    def _connect(self) -> None:
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a power cut
        db.execute("CREATE TABLE IF NOT EXISTS messages (row INTEGER PRIMARY KEY AUTOINCREMENT,"
                   " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._load_counters()

    def _load_counters(self) -> None:
        db = self._db
        self._count, self._bytes = db.execute(f"SELECT COUNT(*), COALESCE(SUM({_SIZE}), 0) FROM messages").fetchone()
        found = db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        self._dropped = found[0] if found else 0
        highest = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        self._highest = max(self._highest, highest[0] if highest else 0)

    def _close_db(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def rebuild(self, reason: str) -> Recovery:
        """The file is damaged: move it aside, start a new one, copy in what can be read.
        Raises SpoolUnavailable (this object is closed then: open the path again later)."""
        with self._lock:
            self._close_db()
            return self._rebuild(reason)

    def _rebuild(self, reason: str) -> Recovery:
        try:
            return self._rebuild_once(reason)
        except OSError as exc:  # EIO, EACCES... from the file system calls around SQLite
            self._close_db()
            raise SpoolUnavailable(f"cannot rebuild the damaged spool {self.path}: "
                                   f"{exc.strerror or describe(exc)}") from exc

    def _rebuild_once(self, reason: str) -> Recovery:
        path = Path(self.path)
        aside = self._move_aside(path)  # named *.pending until its rows are in a spool
        try:
            self._connect()
        except sqlite3.Error as exc:
            self._close_db()
            raise SpoolUnavailable(f"cannot start a new spool at {path} after moving the damaged one to {aside} "
                                   f"(its messages are copied once a new spool can be made): "
                                   f"{describe(exc)}") from exc
        try:
            self.recovery = self._adopt(aside, reason)
        except SpoolUnavailable:
            self._close_db()
            raise
        logger.error("spool %s was damaged: %s", path, self.recovery.describe())  # the one line
        recovery = self.recovery
        if recovery.blocked is None:
            self._adopt_pending()  # older files a failed rebuild could not copy yet
        self._raise_sequence_or_close(self._min_row)
        return recovery

    def _adopt(self, aside: Path, reason: str, older: bool = False) -> Recovery:
        """Copy what can be read of the damaged file `aside` (named *.pending) into the open
        spool, then drop the .pending from its name: the file stays, for forensics. A file
        the machine stopped us reading in full (`Salvaged.blocked`) keeps its .pending: what
        was read is copied now, the rest at the next open; it is never counted as done."""
        try:
            found = salvage(aside)
        except Exception as exc:  # noqa: BLE001 - a salvage bug must not stop the new spool
            logger.exception("reading the damaged spool %s failed; it is kept as it is", aside)
            found = Salvaged(blocked=f"reading it failed: {describe(exc)}")
        try:
            if found.rows:
                inserted = self._copy_in(found)
                if older and inserted:  # numbered below rows the caller may have handed out already
                    self._lowest_adopted = min(self._lowest_adopted or inserted[0], min(inserted))
            # Row numbers never go back: rows already handed to the broker keep theirs.
            self._raise_sequence(max([self._highest, self._min_row, *found.rows]))
            self._load_counters()  # from what is now on disk
        except sqlite3.Error as exc:
            self._rollback(self._db)
            raise SpoolUnavailable(f"cannot copy the readable messages of {aside} into the spool {self.path} "
                                   f"(the file is kept and copied at the next start): {describe(exc)}") from exc
        if found.blocked is not None:
            return Recovery(reason, str(aside), len(found.rows), found.unreadable, found.blocked)
        kept = self._mark_adopted(aside)
        self._prune_aside()
        return Recovery(reason, str(kept), len(found.rows), found.unreadable)

    def _copy_in(self, found) -> list[int]:
        """One transaction. A row number already taken by the same message (a copy that was
        interrupted after its commit) is skipped; taken by another message, the salvaged one
        gets a new number: nothing readable is lost, nothing is sent twice from here."""
        db = self._db
        inserted = []
        db.execute("BEGIN IMMEDIATE")
        for row in sorted(found.rows):
            topic, payload, qos, retain = found.rows[row]
            there = db.execute("SELECT topic, payload, qos, retain FROM messages WHERE row = ?", (row,)).fetchone()
            if there is None:
                db.execute("INSERT INTO messages (row, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?)",
                           (row, topic, payload, qos, retain))
                inserted.append(row)
            elif tuple(there) != (topic, payload, qos, int(retain)):
                inserted.append(db.execute("INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                                           (topic, payload, qos, retain)).lastrowid)
        if found.dropped:
            db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                       "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)", (found.dropped,))
        db.execute("COMMIT")
        return inserted

    def _adopt_pending(self) -> None:
        """Damaged files moved aside by an earlier rebuild that could not finish (the disk
        was full, the power went): their readable rows are copied in now, every one,
        oldest first. One that cannot be read in full now stops the round: it and the
        newer ones are tried again at the next open."""
        for pending in self._aside_files(pending=True):
            try:
                self.recovery = self._adopt(pending, "left by a rebuild that could not finish", older=True)
            except SpoolUnavailable as exc:  # the spool itself works: take messages, copy later
                logger.error("%s", exc)
                return
            logger.error("spool %s: %s", self.path, self.recovery.describe())
            if self.recovery.blocked is not None:
                return

    def _aside_files(self, pending: bool) -> list[Path]:
        path = Path(self.path)
        found = [p for p in path.parent.glob(f"{path.name}.corrupt-*")
                 if p.name.endswith(PENDING) == pending and not p.name.endswith(COMPANIONS)]
        return sorted(found, key=self._aside_order)

    @staticmethod
    def _aside_order(path: Path) -> tuple[str, int, str]:
        """Oldest first: by the stamp in the name, then its number (-2 before -10)."""
        match = _ASIDE_NAME.search(path.name)
        if match is None:  # named by someone else: after ours, by name
            return ("~", 0, path.name)
        return (match.group(1), int(match.group(2) or 0), path.name)

    @staticmethod
    def _mark_adopted(aside: Path) -> Path:
        if not aside.name.endswith(PENDING):
            return aside
        kept = aside.with_name(aside.name[: -len(PENDING)])
        try:
            for suffix in ("", *COMPANIONS):
                if Path(f"{aside}{suffix}").exists():
                    os.rename(f"{aside}{suffix}", f"{kept}{suffix}")
        except OSError as exc:  # copied again at the next start: the same rows are skipped then
            logger.warning("cannot rename %s after copying its messages: %s", aside, exc.strerror)
            return aside
        return kept

    def _prune_aside(self) -> None:
        """A failing SD card can damage spool after spool: keep the newest MAX_ASIDE damaged
        files whose rows are copied, so forensics cannot fill the disk."""
        for old in self._aside_files(pending=False)[:-MAX_ASIDE]:
            try:
                if old.is_dir():
                    continue  # a directory someone left in the way: never ours to delete
                for suffix in ("", *COMPANIONS):
                    Path(f"{old}{suffix}").unlink(missing_ok=True)
                logger.warning("removed the oldest damaged spool %s (keeping the newest %d)", old, MAX_ASIDE)
            except OSError as exc:
                logger.warning("cannot remove the old damaged spool %s: %s", old, exc.strerror)

    @staticmethod
    def _move_aside(path: Path) -> Path:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}{PENDING}")
        number = 1
        while aside.exists() or aside.with_name(aside.name[: -len(PENDING)]).exists():
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}{PENDING}")
            number += 1
        if path.is_dir() and any(path.iterdir()):
            raise SpoolUnavailable(f"the spool path {path} is a directory with files in it; "
                                   "paths.spool must name a file (the directory was left as it is)")
        try:
            os.rename(path, aside)
            for suffix in COMPANIONS:
                companion = Path(f"{path}{suffix}")
                if companion.exists():
                    os.rename(companion, f"{aside}{suffix}")
        except OSError as exc:
            raise SpoolUnavailable(f"the spool {path} is damaged and cannot be moved aside: {exc.strerror}") from exc
        return aside

    # ----- writing ---------------------------------------------------------------------------

    def write(self, messages: Sequence[tuple[str, bytes, int, bool]] = (), acked: Iterable[int] = ()) -> list[int]:
        """Insert `messages` (topic, payload, qos, retain) and delete `acked` rows in one
        fsync'd transaction; their row numbers, in order. Raises sqlite3.Error, having
        changed nothing (see `classify`)."""
        acked = list(acked)
        if not messages and not acked:
            return []
        with self._lock:
            db = self._database()
            rows, count, size = [], self._count, self._bytes
            dropped = 0
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
                    rows.append(cursor.lastrowid)
                    count, size = count + 1, size + len(payload) + len(topic)  # as SQL LENGTH() counts
                if size > self.max_bytes:
                    dropped, count, size = self._drop_oldest(db, count, size)
                db.execute("COMMIT")
            except BaseException:
                self._rollback(db)
                raise
            self._count, self._bytes, self._dropped = count, size, self._dropped + dropped
            if rows:
                self._highest = max(self._highest, rows[-1])
            if self._dropping and size < self.max_bytes / 2:
                self._dropping = False
                logger.info("spool below half full again")
            return rows

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Store one message durably; raises sqlite3.Error (e.g. disk full)."""
        return self.write([(topic, payload, qos, retain)])[0]

    def put_many(self, messages: Sequence[tuple[str, bytes, int, bool]]) -> list[int]:
        """Store several messages durably in one transaction (one fsync)."""
        return self.write(messages)

    def ack(self, *rows: int) -> None:
        """Delete acknowledged messages, several in one transaction."""
        self.write((), rows)

    def append_from(self, other: Path | str, chunk: int = 1000) -> int:
        """Move the rows of another spool file (a reload changed paths.spool) to the end of
        this one, in their order, a chunk per transaction: written here, then deleted there
        (a power cut in between sends a chunk twice, never loses it). How many were moved.
        Raises sqlite3.Error or SpoolUnavailable; chunks moved before that stay moved (the
        rest is moved at the next call)."""
        if not Path(other).exists():
            return 0
        source = Spool(other, max_bytes=1 << 62)  # a damaged file is rebuilt there first, as at any open
        moved = 0
        try:
            while rows := source.oldest(chunk):
                self.write([(m.topic, m.payload, m.qos, m.retain) for m in rows])
                source.ack(*(m.row for m in rows))
                moved += len(rows)
        finally:
            source.close()
        return moved

    def _drop_oldest(self, db: sqlite3.Connection, count: int, size: int) -> tuple[int, int, int]:
        dropped = 0
        for row, row_size in db.execute(f"SELECT row, {_SIZE} FROM messages ORDER BY row").fetchall():
            if size <= self.max_bytes * 0.9:  # leave headroom so we do not drop on every put
                break
            db.execute("DELETE FROM messages WHERE row = ?", (row,))
            count, size, dropped = count - 1, size - row_size, dropped + 1
        db.execute("INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                   "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (dropped,))
        if not self._dropping:  # one line when the spool fills up, not one per message
            logger.warning("spool full (%d bytes): dropping the oldest messages; the count is in status",
                           self.max_bytes)
            self._dropping = True
        return dropped, count, size

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolls back by itself when it cannot

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.OperationalError("the spool is closed")
        return self._db

    # ----- reading ---------------------------------------------------------------------------

    def oldest(self, limit: int, after: int = 0) -> list[Spooled]:
        """Up to `limit` messages in order, starting after row `after`."""
        with self._lock:
            rows = self._database().execute("SELECT row, topic, payload, qos, retain FROM messages WHERE row > ?"
                                            " ORDER BY row LIMIT ?", (after, limit)).fetchall()
        return [Spooled(row, topic, bytes(payload), qos, bool(retain)) for row, topic, payload, qos, retain in rows]

    @property
    def depth(self) -> int:
        """Messages in the spool (kept as a count: no query)."""
        return self._count

    @property
    def dropped(self) -> int:
        """Messages dropped, oldest first, because the spool was at its size cap (persistent)."""
        return self._dropped

    @property
    def highest_row(self) -> int:
        return self._highest

    def take_lowest_adopted(self) -> int | None:
        """The lowest row copied in from an older pending file since the last call, if any:
        a reader that has handed rows out by number must hand them again from there."""
        with self._lock:
            lowest, self._lowest_adopted = self._lowest_adopted, None
        return lowest

    def close(self) -> None:
        with self._lock:
            self._close_db()
