"""Read what can still be read from a damaged spool file.

A spool moved aside as corrupt (truncated, a page of garbage in the middle, a damaged
header) usually still holds most of its rows: SQLite stops at the first bad page, not
at the first row. We read the `messages` table three ways and merge by row number
(and the held proof of play's rows, when they can be read):
forward until the first error, backward from the end until the first error, then one
row at a time across the gap between them. A file whose 100-byte header is garbage
gets a rebuilt header on a temporary copy (our spools use a known format) and is read
the same way. The damaged file itself is only ever opened read-only: it is kept for
forensics.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from signage.telemetry.spool.heldrows import HeldRows, read_held

logger = logging.getLogger(__name__)

MAGIC = b"SQLite format 3\x00"
MAX_GAP_LOOKUPS = 1_000_000  # bounds the row-by-row pass over a badly damaged file
SELECT = "SELECT row, topic, payload, qos, retain FROM messages"


@dataclass
class Salvaged:
    rows: dict[int, tuple[str, bytes, int, bool]] = field(default_factory=dict)  # row -> message
    dropped: int = 0  # the spool's own counter of messages dropped when it was full, if readable
    held: HeldRows | None = None  # the held proof of play (heldrows.py), if readable: held.py checks it
    unreadable: bool = False  # some part of the file's content could not be read
    header_rebuilt: bool = False
    # Why the file could not be read in full because of the machine, not of its content
    # (an I/O error, no room for the repaired copy): read it again later, never give up on it.
    blocked: str | None = None


def _valid(row) -> tuple[int, tuple[str, bytes, int, bool]] | None:
    number, topic, payload, qos, retain = row
    if not isinstance(number, int) or not isinstance(topic, str) or qos not in (0, 1, 2) or retain not in (0, 1):
        return None
    if isinstance(payload, str):
        payload = payload.encode()
    if not isinstance(payload, bytes):
        return None
    return number, (topic, payload, qos, bool(retain))


def _read(db: sqlite3.Connection, found: Salvaged) -> None:
    last = 0
    try:
        for row in db.execute(f"{SELECT} ORDER BY row"):
            valid = _valid(row)
            if valid:
                found.rows[valid[0]] = valid[1]
                last = valid[0]
        return  # the whole table read cleanly
    except sqlite3.Error:
        found.unreadable = True
    first_tail = None
    try:
        for row in db.execute(f"{SELECT} WHERE row > ? ORDER BY row DESC", (last,)):
            valid = _valid(row)
            if valid:
                found.rows[valid[0]] = valid[1]
                first_tail = valid[0]
    except sqlite3.Error:
        pass
    if first_tail is None:
        first_tail = _highest_row(db)
    if first_tail is None:
        return
    for number in range(last + 1, min(first_tail, last + 1 + MAX_GAP_LOOKUPS)):
        try:
            row = db.execute(f"{SELECT} WHERE row = ?", (number,)).fetchone()
        except sqlite3.Error:
            continue
        valid = _valid(row) if row else None
        if valid:
            found.rows[valid[0]] = valid[1]


def _highest_row(db: sqlite3.Connection) -> int | None:
    for query in ("SELECT seq FROM sqlite_sequence WHERE name = 'messages'", "SELECT MAX(row) FROM messages"):
        try:
            value = db.execute(query).fetchone()
        except sqlite3.Error:
            continue
        if value and isinstance(value[0], int):
            return value[0] + 1
    return None


def _read_dropped(db: sqlite3.Connection, found: Salvaged) -> None:
    try:
        value = db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
    except sqlite3.Error:
        return
    if value and isinstance(value[0], int):
        found.dropped = value[0]


def _read_held(db: sqlite3.Connection, found: Salvaged) -> None:
    try:
        found.held = read_held(db)
    except sqlite3.Error:  # a spool from before the tables, or a page of them is damaged
        return


def _open_read_only(path: Path) -> sqlite3.Connection:
    # mode=ro leaves the forensic copy untouched; a WAL database without its -shm file
    # cannot be opened read-only, so fall back to immutable (which ignores the WAL).
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()
        return db
    except sqlite3.Error:
        return sqlite3.connect(f"file:{path}?immutable=1", uri=True)


def _page_size(page1: bytes, size: int) -> int | None:
    if page1[:16] == MAGIC:
        (declared,) = struct.unpack(">H", page1[16:18])
        declared = 65536 if declared == 1 else declared
        if declared >= 512 and declared & (declared - 1) == 0:
            return declared
    for page_size in (4096, 1024, 2048, 8192, 16384, 32768, 65536):  # 4096: SQLite's default, ours
        if size % page_size == 0 and size >= 2 * page_size:
            return page_size
    return 4096 if size >= 2 * 4096 else None


def _rebuilt_header(path: Path) -> Path | None:
    """A temporary copy of `path`'s whole pages under a canonical SQLite header; None when
    the file is too short to hold a page. Raises OSError when the copy cannot be made."""
    size = path.stat().st_size
    with open(path, "rb") as source:
        page1 = source.read(65536)
    page_size = _page_size(page1, size)
    if page_size is None:
        return None
    pages = size // page_size
    header = bytearray(100)
    header[:16] = MAGIC
    header[16:18] = struct.pack(">H", 1 if page_size == 65536 else page_size)
    header[18:24] = bytes([1, 1, 0, 64, 32, 32])  # rollback journal, no reserved bytes, fixed fractions
    struct.pack_into(">IIIIIIIIIIIII", header, 24, 1, pages, 0, 0, 1, 4, 0, 0, 1, 0, 0, 0, 0)
    struct.pack_into(">II", header, 92, 1, sqlite3.sqlite_version_info[0] * 1_000_000
                     + sqlite3.sqlite_version_info[1] * 1000 + sqlite3.sqlite_version_info[2])
    handle, name = tempfile.mkstemp(prefix=".salvage-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as copy, open(path, "rb") as source:
            copy.write(bytes(header) + page1[100:page_size])
            source.seek(page_size)
            left = (pages - 1) * page_size  # a torn last page is left out
            while left > 0 and (chunk := source.read(min(left, 1 << 20))):
                copy.write(chunk)
                left -= len(chunk)
    except BaseException:  # e.g. the disk is full: the damaged file stays as it is
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def salvage(path: Path) -> Salvaged:
    """Every row of `path` that can still be read (the file is not modified). When the
    machine stopped the reading (an OSError: the disk is full, an I/O error), `blocked`
    says why: what was read is in `rows`, the rest may be readable later."""
    found = Salvaged()
    try:
        _salvage(path, found)
    except OSError as exc:
        found.blocked = f"{path}: {exc.strerror or exc}"
        logger.warning("cannot read the damaged spool %s in full now: %s", path, exc.strerror or exc)
    return found


def _salvage(path: Path, found: Salvaged) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as handle:
        header_ok = handle.read(16) == MAGIC
    if header_ok:
        _read_file(path, found)
        if found.rows and not found.unreadable:
            return
    # A damaged header, or a file SQLite cannot read at all (e.g. truncated: the header
    # promises pages that are gone): read its whole pages under a header we write.
    copy = _rebuilt_header(path)  # OSError (no room for the copy): blocked, not unreadable
    if copy is None:
        found.unreadable = True
        return
    try:
        before = len(found.rows)
        _read_file(copy, found)
        found.header_rebuilt = len(found.rows) > before
    finally:
        copy.unlink(missing_ok=True)


def _read_file(path: Path, found: Salvaged) -> None:
    try:
        db = _open_read_only(path)
        try:
            _read(db, found)
            _read_dropped(db, found)
            if found.held is None:
                _read_held(db, found)
        finally:
            db.close()
    except sqlite3.Error:
        found.unreadable = True
