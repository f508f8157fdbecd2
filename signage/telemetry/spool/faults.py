"""What can go wrong with the spool, sorted by what the caller should do about it.

Every `sqlite3.Error` stays inside the spool package: it leaves as one of these, raised
`from` the original. A write that fails has changed nothing, whatever the fault.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator

from signage.errors import SignageError

_DAMAGED_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_FULL_CODES = {sqlite3.SQLITE_FULL}


class SpoolFault(SignageError):
    """The spool could not do what was asked; `kind` says which fault, for status."""

    kind = "io"


class SpoolFull(SpoolFault):
    """The disk is full: keep the messages and try again later."""

    kind = "full"


class SpoolDamaged(SpoolFault):
    """The file is damaged: `Spool.rebuild` moves it aside and keeps what can be read."""

    kind = "corrupt"


class SpoolIOError(SpoolFault):
    """Any other failure to read or write (an I/O error, a read-only disk, a closed spool):
    keep the messages and try again later."""

    kind = "io"


class SpoolUnavailable(SpoolFault):
    """The spool file cannot be opened or made at all: open the path again later."""

    kind = "unusable"


def fault_of(exc: sqlite3.Error) -> SpoolFault:
    """The fault an SQLite error means, with SQLite's words."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc).lower()
    if code in _DAMAGED_CODES or "malformed" in text or "not a database" in text:
        return SpoolDamaged(describe(exc))
    if code in _FULL_CODES or "disk is full" in text or "disk full" in text:
        return SpoolFull(describe(exc))
    return SpoolIOError(describe(exc))


def is_damage(exc: sqlite3.Error) -> bool:
    return isinstance(fault_of(exc), SpoolDamaged)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Around every SQLite call the spool makes for a caller: its error leaves as a SpoolFault."""
    try:
        yield
    except sqlite3.Error as exc:
        raise fault_of(exc) from exc


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
