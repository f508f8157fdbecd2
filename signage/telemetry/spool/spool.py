"""The on-disk spool: every outgoing message waits here until the broker acknowledges it.

Durability. When `write`, `put`, `put_many` or `ack` return, their transaction is
fsync'd and survives a power cut (power cuts are the kiosk's most common fault). An
fsync per message would cap a burst at the disk's fsync rate, so writes are grouped:
one call is one transaction, whatever it carries. The telemetry pump is the one writer:
each of its steps writes every message held since the previous step together with the
deletions the broker acknowledged, in one transaction (group commit). A message counts
as durable once the pump's transaction holding it commits; until then it is held in
memory and counted (`held` in status).

Order. Rows come out in insertion order (row numbers are never reused; a caller that
knows higher numbers from an earlier object passes `min_row`, so a row number it handed
to the broker never names another message). When the spool outgrows `max_bytes` the
oldest rows go first and a persistent counter says how many.

Faults leave as SpoolFault (faults.py): SpoolFull and SpoolIOError (nothing was written:
keep the messages, retry), SpoolDamaged (call `rebuild`), SpoolUnavailable (this object
cannot be used: open the path again later). At open the header is checked and `PRAGMA
quick_check` runs (a boot-time cost that grows with the spool; `signage bench telemetry`
measures the spool); a damaged file is rebuilt at once: moved aside for forensics
(damaged.py), and every row that can still be read (salvage.py) copied into a new file,
keeping its row number. The damaged file stays pending until its rows are committed in a
spool; every pending file is copied at each open, oldest first.

Threads: the methods take a lock, so a test or the stopping thread may read while the
pump works; in the product only the pump thread uses the spool while it runs.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import signage.telemetry.spool.damaged as damaged
from signage.telemetry.spool.faults import SpoolIOError, SpoolUnavailable, describe, is_damage, translated
from signage.telemetry.spool.file import Message, SpoolFile, problem_of
from signage.telemetry.spool.salvage import Salvaged, salvage
from signage.telemetry.spool.heldrows import HeldRows

logger = logging.getLogger(__name__)


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


class Spool:
    def __init__(self, path: Path | str, max_bytes: int = 64 << 20, min_row: int = 0):
        """min_row: new rows are numbered above it (the caller handed out rows up to it).
        Raises SpoolUnavailable when the file can be neither opened nor made."""
        self.path = str(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._dropping = False
        self._file: SpoolFile | None = None
        self._closed_counts = (0, 0)  # depth and dropped when the file was closed: status still reads them
        self._highest = 0  # highest row number ever handed out (also across a rebuild)
        self._min_row = min_row
        self._lowest_adopted: int | None = None  # lowest row copied in from an older pending file
        self.recovery: Recovery | None = None
        try:
            self._open()
        except OSError as exc:  # EIO, EACCES... from a file system call around SQLite
            self._close_file()
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
        problem = problem_of(path)
        if problem is None:
            try:
                self._connect()
                problem = self._opened().quick_check()
            except sqlite3.Error as exc:
                if not is_damage(exc):
                    self._close_file()
                    raise SpoolUnavailable(f"cannot open the spool {path}: {describe(exc)}") from exc
                problem = describe(exc)
        if problem is not None:
            self._close_file()
            self._rebuild(problem)
        else:
            self._adopt_pending()
            self._raise_sequence_or_close(self._min_row)

    def _connect(self) -> None:
        self._file = SpoolFile(self.path)
        self._highest = max(self._highest, self._file.sequence)

    def _raise_sequence_or_close(self, highest: int) -> None:
        """Row numbers never go back: new rows are numbered above `highest`."""
        if highest <= self._highest:
            return
        try:
            self._opened().raise_sequence(highest)
        except sqlite3.Error as exc:
            self._close_file()
            raise SpoolUnavailable(f"cannot number the rows of the spool {self.path}: {describe(exc)}") from exc
        self._highest = highest

    def rebuild(self, reason: str) -> Recovery:
        """The file is damaged: move it aside, start a new one, copy in what can be read.
        Raises SpoolUnavailable (this object is closed then: open the path again later)."""
        with self._lock:
            self._close_file()
            return self._rebuild(reason)

    def _rebuild(self, reason: str) -> Recovery:
        try:
            return self._rebuild_once(reason)
        except OSError as exc:  # EIO, EACCES... from the file system calls around SQLite
            self._close_file()
            raise SpoolUnavailable(f"cannot rebuild the damaged spool {self.path}: "
                                   f"{exc.strerror or describe(exc)}") from exc

    def _rebuild_once(self, reason: str) -> Recovery:
        path = Path(self.path)
        aside = damaged.move_aside(path)  # named *.pending until its rows are in a spool
        try:
            self._connect()
        except sqlite3.Error as exc:
            self._close_file()
            raise SpoolUnavailable(f"cannot start a new spool at {path} after moving the damaged one to {aside} "
                                   f"(its messages are copied once a new spool can be made): "
                                   f"{describe(exc)}") from exc
        try:
            recovery = self.recovery = self._adopt(aside, reason)
        except SpoolUnavailable:
            self._close_file()
            raise
        logger.error("spool %s was damaged: %s", path, recovery.describe())  # the one line
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
        file = self._opened()
        try:
            if found.rows or (found.held is not None and not older):
                inserted = file.copy_in(found, held=not older)  # (an older file's held plays are stale)
                if older and inserted:  # numbered below rows the caller may have handed out already
                    self._lowest_adopted = min(self._lowest_adopted or inserted[0], min(inserted))
            # Row numbers never go back: rows already handed to the broker keep theirs.
            file.raise_sequence(max([self._highest, self._min_row, *found.rows]))
            file.load_counters()  # from what is now on disk
        except sqlite3.Error as exc:
            file.rollback()
            raise SpoolUnavailable(f"cannot copy the readable messages of {aside} into the spool {self.path} "
                                   f"(the file is kept and copied at the next start): {describe(exc)}") from exc
        self._highest = max(self._highest, file.sequence)
        if found.blocked is not None:
            return Recovery(reason, str(aside), len(found.rows), found.unreadable, found.blocked)
        kept = damaged.mark_copied(aside)
        damaged.prune(Path(self.path))
        return Recovery(reason, str(kept), len(found.rows), found.unreadable)

    def _adopt_pending(self) -> None:
        """Damaged files moved aside by an earlier rebuild that could not finish (the disk
        was full, the power went): their readable rows are copied in now, every one,
        oldest first. One that cannot be read in full now stops the round: it and the
        newer ones are tried again at the next open."""
        for pending in damaged.files(Path(self.path), pending=True):
            try:
                self.recovery = self._adopt(pending, "left by a rebuild that could not finish", older=True)
            except SpoolUnavailable as exc:  # the spool itself works: take messages, copy later
                logger.error("%s", exc)
                return
            logger.error("spool %s: %s", self.path, self.recovery.describe())
            if self.recovery.blocked is not None:
                return

    def _close_file(self) -> None:
        if self._file is not None:
            self._closed_counts = (self._file.count, self._file.dropped)
            self._file.close()
            self._file = None

    def _opened(self) -> SpoolFile:
        if self._file is None:
            raise SpoolIOError(f"the spool {self.path} is closed")
        return self._file

    # ----- writing ---------------------------------------------------------------------------

    def write(self, messages: Sequence[Message] = (), acked: Iterable[int] = (),
              held: HeldRows | None = None) -> list[int]:
        """Insert `messages` (topic, payload, qos, retain), delete `acked` rows and make
        the held proof of play `held` (if given; heldrows.py) in one fsync'd transaction; the
        messages' row numbers, in order. Raises a SpoolFault, having changed nothing."""
        acked = list(acked)
        if not messages and not acked and held is None:
            return []
        with self._lock, translated():
            file = self._opened()
            rows, dropped = file.write(messages, acked, self.max_bytes, held)
        if rows:
            self._highest = max(self._highest, rows[-1])
        if dropped and not self._dropping:  # one line when the spool fills up, not one per message
            logger.warning("spool full (%d bytes): dropping the oldest messages; the count is in status",
                           self.max_bytes)
            self._dropping = True
        elif self._dropping and file.size < self.max_bytes / 2:
            self._dropping = False
            logger.info("spool below half full again")
        return rows

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Store one message durably; raises a SpoolFault (e.g. SpoolFull)."""
        return self.write([(topic, payload, qos, retain)])[0]

    def put_many(self, messages: Sequence[Message]) -> list[int]:
        """Store several messages durably in one transaction (one fsync)."""
        return self.write(messages)

    def ack(self, *rows: int) -> None:
        """Delete acknowledged messages, several in one transaction."""
        self.write((), rows)

    def append_from(self, other: Path | str, chunk: int = 1000) -> int:
        """Move the rows of another spool file (a reload changed paths.spool) to the end of
        this one, in their order, a chunk per transaction: written here, then deleted there
        (a power cut in between sends a chunk twice, never loses it). How many were moved.
        Raises a SpoolFault; chunks moved before that stay moved (the rest is moved at the
        next call)."""
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

    # ----- reading ---------------------------------------------------------------------------

    def oldest(self, limit: int, after: int = 0) -> list[Spooled]:
        """Up to `limit` messages in order, starting after row `after`."""
        with self._lock, translated():
            return [Spooled(*row) for row in self._opened().oldest(limit, after)]

    def held(self) -> HeldRows | None:
        """The held proof of play last written (telemetry/held.py reads it), None if none
        ever was. Raises a SpoolFault."""
        with self._lock, translated():
            return self._opened().held()

    @property
    def depth(self) -> int:
        """Messages in the spool (kept as a count: no query)."""
        return self._file.count if self._file is not None else self._closed_counts[0]

    @property
    def dropped(self) -> int:
        """Messages dropped, oldest first, because the spool was at its size cap (persistent)."""
        return self._file.dropped if self._file is not None else self._closed_counts[1]

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
            self._close_file()
