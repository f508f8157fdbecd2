"""The last good playlist, kept on disk for the next boot.

A bad edit followed by a power cut must not leave a dark panel: whenever a playlist
set loads, it is saved here (JSON: the merged playlist with absolute media paths and
each media file's size), atomically (temp file, fsync, rename, fsync the folder) and
only when it differs from what is saved, so the SD card is not written needlessly.
At boot, when the playlist files are broken, missing or still being written, the saved
playlist is used if its media files are all still there with the same size. Only a
settled read is ever saved (the watcher's): never a file caught half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from signage.playlist.loader import Playlist
from signage.playlist.fileformat import Creative, PlayItem, Rule
from signage.yamlread import read_bounded

logger = logging.getLogger(__name__)

FORMAT = 1
MAX_BYTES = 16 << 20  # a saved playlist is small; a larger file is not ours


class LastGoodError(Exception):
    """The saved playlist cannot be used; the message says why."""


class BootPlaylist(NamedTuple):
    playlist: Playlist | None
    problems: str | None  # why the files were not used (None when they were)
    source: str  # "files", "last-good" or "none"


def encode(playlist: Playlist) -> bytes:
    """The saved form: stable bytes for equal playlists (no timestamp inside)."""
    media = {}
    for creative_id, path in sorted(playlist.media.items()):
        info = path.stat()
        media[creative_id] = {"path": str(path), "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    document = {
        "format": FORMAT,
        "creatives": [c.model_dump(mode="json") for c in playlist.creatives.values()],
        "media": media,
        "video_seconds": playlist.video_seconds,
        "default": [item.model_dump(mode="json") for item in playlist.default],
        "default_min_show": playlist.default_min_show,
        "rules": [rule.model_dump(mode="json") for rule in playlist.rules],
        "files": [str(p) for p in playlist.files],
    }
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def save(playlist: Playlist, state_file: Path) -> bool:
    """Persist atomically if it changed; True when the file was written. Raises OSError."""
    data = encode(playlist)
    try:
        if read_bounded(state_file, MAX_BYTES) == data:
            return False
    except (OSError, ValueError):
        pass  # absent or unreadable: write it
    state_file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=state_file.parent, prefix=f".{state_file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, state_file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(state_file.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)
    logger.info("saved the last good playlist (%d creatives) to %s", len(playlist.creatives), state_file)
    return True


def restore(state_file: Path) -> Playlist:
    """The saved playlist, if every media file it names is still there with its size."""
    try:
        document = json.loads(read_bounded(state_file, MAX_BYTES))
    except FileNotFoundError:
        raise LastGoodError("none was saved yet") from None
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise LastGoodError(f"{state_file} cannot be read ({exc})") from None
    try:
        if document.get("format") != FORMAT:
            raise LastGoodError(f"{state_file} is in an unknown format")
        creatives = {c["id"]: Creative.model_validate(c) for c in document["creatives"]}
        media: dict[str, Path] = {}
        for creative_id, entry in document["media"].items():
            path = Path(entry["path"])
            try:
                size = path.stat().st_size
            except OSError:
                raise LastGoodError(f"its media file {path} is gone") from None
            if size != entry["size"]:
                raise LastGoodError(f"its media file {path} changed since it was saved")
            media[creative_id] = path
        return Playlist(
            creatives=creatives, media=media,
            video_seconds={k: float(v) for k, v in document["video_seconds"].items()},
            default=[PlayItem.model_validate(item) for item in document["default"]],
            default_min_show=float(document["default_min_show"]),
            rules=[Rule.model_validate(rule) for rule in document["rules"]],
            files=tuple(Path(p) for p in document["files"]),
        )
    except LastGoodError:
        raise
    except Exception as exc:  # a damaged or outdated file: not usable, never fatal
        raise LastGoodError(f"{state_file} does not hold a valid playlist ({type(exc).__name__})") from None


def boot_from(playlist: Playlist | None, problems: str, state_file: Path | None) -> BootPlaylist:
    if playlist is not None:
        if state_file is not None:
            try:
                save(playlist, state_file)
            except OSError as exc:
                logger.warning("cannot save the last good playlist to %s: %s", state_file, exc)
        return BootPlaylist(playlist, None, "files")
    if state_file is None:
        return BootPlaylist(None, problems, "none")
    try:
        saved = restore(state_file)
    except LastGoodError as exc:
        logger.error("the playlist files cannot be used and no last good playlist can be (%s)", exc)
        return BootPlaylist(None, f"{problems}\n(no last good playlist to fall back on: {exc})", "none")
    when = dt.datetime.fromtimestamp(state_file.stat().st_mtime).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    logger.warning("the playlist files cannot be used; playing the last good playlist, saved %s (%d creatives)",
                   when, len(saved.creatives))
    return BootPlaylist(saved, f"playing the last good playlist (saved {when}) because the files cannot"
                               f" be used:\n{problems}", "last-good")
