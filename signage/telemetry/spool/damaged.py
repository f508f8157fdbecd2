"""The damaged spool files moved aside: how they are named, found oldest first, marked
once their rows are copied, and bounded.

A damaged file is renamed `<spool>.corrupt-<UTC stamp>[-n].pending` (with its -wal,
-shm and -journal companions) and keeps `.pending` until its readable rows are committed
in a spool, so a copy that a full disk or a power cut interrupted is finished at the
next open. Pending files are never deleted. Of the files whose rows are copied, the
newest MAX_ASIDE are kept for forensics and older ones are deleted: a failing SD card
can damage spool after spool, and forensics must not fill the disk.

Plain file-system calls: an OSError leaves these functions as it is, for the spool to
turn into SpoolUnavailable.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path

from signage.telemetry.spool.faults import SpoolUnavailable

logger = logging.getLogger(__name__)

PENDING = ".pending"  # a damaged file moved aside whose readable rows are not yet in a spool
COMPANIONS = ("-wal", "-shm", "-journal")
MAX_ASIDE = 3  # damaged files kept for forensics once their rows are copied
_NAME = re.compile(r"\.corrupt-(\d{8}T\d{6}Z)(?:-(\d+))?(?:\.pending)?$")


def move_aside(path: Path) -> Path:
    """Rename the damaged spool (and its companions) to a new pending name; that name."""
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


def files(path: Path, pending: bool) -> list[Path]:
    """The files moved aside from the spool at `path`, pending or copied, oldest first."""
    found = [p for p in path.parent.glob(f"{path.name}.corrupt-*")
             if p.name.endswith(PENDING) == pending and not p.name.endswith(COMPANIONS)]
    return sorted(found, key=_age)


def _age(path: Path) -> tuple[str, int, str]:
    """Oldest first: by the stamp in the name, then its number (-2 before -10)."""
    match = _NAME.search(path.name)
    if match is None:  # named by someone else: after ours, by name
        return ("~", 0, path.name)
    return (match.group(1), int(match.group(2) or 0), path.name)


def mark_copied(aside: Path) -> Path:
    """Drop `.pending` from the name of a file whose rows are in a spool; its name now."""
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


def prune(path: Path) -> None:
    """Keep the newest MAX_ASIDE copied files of the spool at `path`; delete older ones."""
    for old in files(path, pending=False)[:-MAX_ASIDE]:
        try:
            if old.is_dir():
                continue  # a directory someone left in the way: never ours to delete
            for suffix in ("", *COMPANIONS):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
            logger.warning("removed the oldest damaged spool %s (keeping the newest %d)", old, MAX_ASIDE)
        except OSError as exc:
            logger.warning("cannot remove the old damaged spool %s: %s", old, exc.strerror)
