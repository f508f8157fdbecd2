"""Hot reload: notice edited playlist files, load them once they are complete, keep
the last good playlist when an edit is broken.

Polling (every 0.5 s by default) works on every filesystem and needs no extra
dependency. What is polled is `stat` (inode, size, mtime, type) of the playlist files
and of every media file they name, never their content: a 1 GB file costs as much as
a small one, and deleting or replacing a picture re-validates the playlist like an
edit does. A change is loaded only after the files looked the same on two polls in a
row, so a file an editor is still writing is never loaded half-written; and even
then the whole set must validate before it replaces the running playlist.

Threads: the watcher thread alone owns the watcher's state (what was seen, loaded,
rejected). It tells the main thread through `events` (a queue of PlaylistAccepted,
PlaylistRejected, WatcherFault); the main thread asks for a forced reload (SIGHUP,
MQTT RELOAD) with `request_reload()`, which the watcher thread services. Any
unexpected exception in a poll is logged with its traceback, counted, reported as a
WatcherFault, and the thread carries on after a back-off.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.lastgood import BootPlaylist, boot_from, save
from signage.playlist.loader import (LoadResult, Playlist, VideoLength, load_playlist_set, playlist_files,
                                     summary)
from signage.threads import name_os_thread

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class PlaylistAccepted:
    """A new playlist validated: play it (the rejection, if any, is over)."""

    playlist: Playlist
    forced: bool = False  # loaded because a reload was requested, not because files changed


@dataclass(frozen=True)
class PlaylistRejected:
    """The newest edit is broken; the last good playlist keeps running."""

    problems: str  # one per line, file:line:col first; at most 10 and a count (the log has them all)


@dataclass(frozen=True)
class WatcherFault:
    """The watcher hit an unexpected error (a bug); it carries on after a back-off."""

    message: str
    count: int


Event = PlaylistAccepted | PlaylistRejected | WatcherFault
Stat = tuple[int, int, int, int] | None


def _stat(path: Path) -> tuple[Stat, Stat]:
    """(the entry itself, what it points to): a symlink retargeted counts as a change."""
    def one(follow: bool) -> Stat:
        try:
            info = os.stat(path, follow_symlinks=follow)
        except OSError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode
    return one(False), one(True)


class PlaylistWatcher:
    def __init__(self, paths: list[Path], base: Path | None = None, *, video_length: VideoLength,
                 state_file: Path | None = None, max_image_pixels: int = DEFAULT_MAX_PIXELS, interval: float = 0.5):
        self.paths = paths
        self.video_length = video_length
        self.base = base
        self.state_file = state_file
        self.max_image_pixels = max_image_pixels
        self.interval = interval
        self.events: queue.Queue[Event] = queue.Queue()
        self.faults = 0  # unexpected exceptions survived (written by the watcher thread only)
        self.last_progress = time.monotonic()  # end of the newest poll, for the watchdog
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._thread: threading.Thread | None = None
        # Owned by the watcher thread once started:
        self._media: tuple[Path, ...] = ()
        self._loaded: dict | None = None  # fingerprint of what was last loaded (or rejected)
        self._seen: dict | None = None  # fingerprint at the previous poll
        self._rejected = False
        self._last_fault: str | None = None

    # ----- the main thread's side -------------------------------------------------------------

    def boot(self) -> BootPlaylist:
        """First load, before start(): the files, else the last good playlist saved on disk,
        else (None, problems, 'none'). Never raises for bad input."""
        fingerprint = self.fingerprint()
        result = self._load()
        if result.playlist is None:
            logger.error("the playlist files are rejected:\n%s", "\n".join(str(p) for p in result.problems))
        boot = boot_from(result.playlist, summary(result.problems), self.state_file)
        self._rejected = result.playlist is None
        self._loaded = self._seen = self._after_load(fingerprint, result)
        return boot

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="playlist-watcher", daemon=True)
        self._thread.start()

    def request_reload(self) -> None:
        """SIGHUP, MQTT RELOAD: load the files now, changed or not; the answer comes as an event."""
        self._reload.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._reload.set()  # wake it
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- the watcher thread -----------------------------------------------------------------

    def _run(self) -> None:
        name_os_thread()
        wait = self.interval
        while not self._stop.is_set():
            forced = self._reload.wait(wait)
            if self._stop.is_set():
                break
            if forced:  # cleared only when it woke us: a request that lands after a timeout is kept
                self._reload.clear()
            try:
                self.poll(force=forced)
                wait = self.interval
            except Exception as exc:  # the fault barrier: the watcher never dies
                self.faults += 1
                message = f"playlist watcher: {type(exc).__name__}: {exc}"
                if message != self._last_fault:  # once per distinct fault, with the traceback
                    logger.exception("playlist watcher failed (%d so far); retrying", self.faults)
                self._last_fault = message
                wait = min(max(wait, self.interval) * 2, MAX_BACKOFF_S)
                self.events.put(WatcherFault(message, self.faults))
            self.last_progress = time.monotonic()

    def fingerprint(self) -> dict[Path, tuple[Stat, Stat]]:
        try:
            files = playlist_files(self.paths)
        except OSError as exc:  # a folder the service may not list: the load reports it, with the fix
            return {Path("<files>"): (f"unlistable: {exc.strerror}",)}
        return {path: _stat(path) for path in (*files, *self._media)} | {Path("<files>"): tuple(files)}

    def poll(self, force: bool = False) -> Playlist | None:
        """One step (the watcher thread's, or a test's without start()): a new playlist
        when a complete, valid edit has just been seen (or `force`), else None. Every
        outcome is also posted to `events`."""
        fingerprint = self.fingerprint()
        stable = fingerprint == self._seen
        self._seen = fingerprint
        if not force and (not stable or fingerprint == self._loaded):
            return None
        result = self._load()
        self._loaded = self._seen = self._after_load(fingerprint, result)
        if result.playlist is None:
            self._rejected = True
            logger.error("playlist edit rejected; the last good playlist keeps running:\n%s",
                         "\n".join(str(p) for p in result.problems))
            self.events.put(PlaylistRejected(summary(result.problems)))
            return None
        if self._rejected:
            logger.info("the playlist files are valid again")
        self._rejected = False
        logger.info("playlist %s: %d creatives, %d rules", "reloaded on request" if force else "reloaded",
                    len(result.playlist.creatives), len(result.playlist.rules))
        self._persist(result.playlist)
        self.events.put(PlaylistAccepted(result.playlist, forced=force))
        return result.playlist

    def _load(self) -> LoadResult:
        result = load_playlist_set(self.paths, self.base, self.max_image_pixels, video_length=self.video_length)
        self._media = tuple(sorted(set(result.watched)))
        return result

    def _after_load(self, before: dict, result: LoadResult) -> dict:
        """The fingerprint that stands for this load, now with the media it named. If a
        file changed while it was loading, keep the old one so the change is noticed."""
        after = self.fingerprint()
        edited = any(after.get(path) != stat for path, stat in before.items() if path in after)
        return before if edited else after

    def _persist(self, playlist: Playlist) -> None:
        if self.state_file is None:
            return
        try:
            save(playlist, self.state_file)
        except OSError as exc:
            logger.warning("cannot save the last good playlist to %s: %s", self.state_file, exc)
