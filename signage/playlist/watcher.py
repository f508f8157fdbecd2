"""Hot reload: notice edited playlist files, read them once they are complete, keep
the last good playlist when an edit is broken.

Polling (every 0.5 s by default) works on every filesystem and needs no extra
dependency. What is polled is `stat` (inode, size, mtime, ctime, type) of the playlist
files and of every media file they name, never their content: a 1 GB file costs as
much as a small one, and deleting or replacing a picture re-validates the playlist
like an edit does.

Files are read only once they have settled: unchanged for `settle` seconds (2 s by
default), on every path (a poll, a forced reload for SIGHUP or MQTT RELOAD, the boot).
A writer that pauses mid-file (scp on a slow link, a script writing in chunks) leaves
a file that may well parse on its own; only time tells it from a finished one. At
boot nothing has been watched yet, so the files' ctime stands in: files that changed
less than `settle` seconds ago by the wall clock (or, the clock having stepped back,
seemingly in the future) are watched until they settle; so are media files a new edit
names for the first time. A load during which the files
changed is neither accepted nor rejected: they are still being written. Only a
settled read is accepted, and so only a settled read is saved as the last good
playlist. A writer that pauses longer than `settle` cannot be told from a finished
one: operators write a temporary file and rename it onto the playlist (docs/playlists.md).

Threads: the watcher thread alone owns the watcher's state (what was seen, loaded,
rejected). It tells the main thread through `events` (a queue of PlaylistAccepted,
PlaylistRejected, WatcherFault); the main thread asks for a forced reload (SIGHUP,
MQTT RELOAD) with `request_reload()`, which the watcher thread services once the
files have settled. Each poll runs behind the one fault barrier (faults.py): an
unexpected exception is logged with its traceback once per kind, counted, reported as
a WatcherFault, and the thread carries on after a back-off.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signage.faults import Barrier, describe
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.lastgood import BootPlaylist, boot_from, save
from signage.playlist.loader import (LoadResult, Playlist, VideoLength, load_playlist_set, playlist_files,
                                     summary)
from signage.threads import name_os_thread

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
SETTLE_S = 2.0  # unchanged this long before a read: beats a writer's pause mid-file (scp, a script's chunks)
BOOT_WAIT_S = 10.0  # at boot, files still changing after this are left to the watcher thread


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
Stat = tuple[int, int, int, int, int] | None  # inode, size, mtime, ctime (ns), mode
LISTING = Path("<files>")  # the fingerprint's entry for which playlist files there are
# A file -> its Stat and its target's (a link); LISTING -> the files listed, or why they cannot be.
Fingerprint = dict[Path, tuple]


def _stat(path: Path) -> tuple[Stat, Stat]:
    """(the entry itself, what it points to): a symlink retargeted counts as a change."""
    def one(follow: bool) -> Stat:
        try:
            info = os.stat(path, follow_symlinks=follow)
        except OSError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode
    return one(False), one(True)


class PlaylistWatcher:
    def __init__(self, paths: list[Path], base: Path | None = None, *, video_length: VideoLength,
                 state_file: Path | None = None, max_image_pixels: int = DEFAULT_MAX_PIXELS, interval: float = 0.5,
                 settle: float = SETTLE_S, boot_wait: float = BOOT_WAIT_S,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 awaiting: str | None = None):
        """`clock` (monotonic) measures how long the files stayed unchanged; `wall` is
        compared with their ctime only at first sight, when nothing was watched yet.
        `awaiting`: where the playlist files will come from (a content URL) while none of
        `paths` exists yet; their absence is then expected, not an operator's mistake."""
        self.paths = paths
        self.awaiting = awaiting
        self.video_length = video_length
        self.base = base
        self.state_file = state_file
        self.max_image_pixels = max_image_pixels
        self.interval = interval
        self.settle = settle
        self.boot_wait = boot_wait
        self.clock, self.wall = clock, wall
        self.events: queue.Queue[Event] = queue.Queue()
        self._barrier = Barrier(logger, report=self._report)
        self.last_progress = time.monotonic()  # end of the newest poll, for the watchdog
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._thread: threading.Thread | None = None
        # Owned by the watcher thread once started:
        self._media: tuple[Path, ...] = ()
        self._loaded: Fingerprint | None = None  # fingerprint of what was last loaded (or rejected)
        self._seen: Fingerprint = {}  # fingerprint at the newest look (none yet: empty)
        self._since = 0.0  # clock() when the files last changed, as far as the watcher can tell
        self._confirmed = False  # _seen was seen again (or its ctime is old): not a one-off look
        self._forced = False  # a reload was requested and waits for the files to settle
        self._rejected = False

    # ----- the main thread's side -------------------------------------------------------------

    def boot(self) -> BootPlaylist:
        """First load, before start(): the files once they have settled, else the last
        good playlist saved on disk, else (None, problems, 'none'). Files still changing
        after `boot_wait` seconds are not read: the watcher thread reads them once they
        settle. Never raises for bad input."""
        self._first_look()
        deadline = self.clock() + self.boot_wait
        result = self._read() if self._settled() else None
        while result is None:
            if self.clock() >= deadline:
                return self._boot_unsettled()
            self._stop.wait(self.interval)
            self._look()
            result = self._read() if self._settled() else None
        self._loaded = self._seen
        if result.playlist is None:
            self._say_rejected("the playlist files are rejected", result.problems)
        self._rejected = result.playlist is None
        return boot_from(result.playlist, summary(result.problems), self.state_file)

    def _say_rejected(self, what: str, problems) -> None:
        """An error in the journal, unless there are no files yet because they are awaited
        from the fleet (status says so already)."""
        if self.awaiting is not None and not any(os.path.lexists(p) for p in self.paths):
            logger.info("no playlist files yet at %s: waiting for %s", ", ".join(str(p) for p in self.paths),
                        self.awaiting)
            return
        logger.error("%s:\n%s", what, "\n".join(str(p) for p in problems))

    def _boot_unsettled(self) -> BootPlaylist:
        where = ", ".join(str(p) for p in self.paths)
        problems = (f"{where}: the playlist files are still being written (they kept changing for"
                    f" {self.boot_wait:g} s); they are read once unchanged for {self.settle:g} s")
        logger.warning("%s", problems)
        self._loaded = None  # the watcher thread reads them once they settle
        self._rejected = True
        return boot_from(None, problems, self.state_file)

    def start(self) -> None:
        self.last_progress = time.monotonic()  # the boot may have waited for files to settle
        self._thread = threading.Thread(target=self._run, name="playlist-watcher", daemon=True)
        self._thread.start()

    def request_reload(self) -> None:
        """SIGHUP, MQTT RELOAD: load the files, changed or not, once they have settled;
        the answer comes as an event."""
        self._reload.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._reload.set()  # wake it
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def faults(self) -> int:
        """Unexpected exceptions survived."""
        return self._barrier.total

    def save_last_good_to(self, state_file: Path | None) -> None:
        """From now on each playlist accepted is saved there (None: not saved)."""
        self.state_file = state_file

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
            self._barrier.run("playlist watcher", self.poll, forced)
            failures = self._barrier.failing("playlist watcher")
            wait = min(self.interval * 2 ** min(failures, 16), MAX_BACKOFF_S) if failures else self.interval
            self.last_progress = time.monotonic()

    def _report(self, step: str, exc: BaseException | None) -> None:
        """The barrier's report: a fault goes to the main thread as an event."""
        if exc is not None:
            self.events.put(WatcherFault(f"{step}: {describe(exc)}", self.faults))

    def fingerprint(self) -> Fingerprint:
        try:
            files = playlist_files(self.paths)
        except OSError as exc:  # a folder the service may not list: the load reports it, with the fix
            return {LISTING: (f"unlistable: {exc.strerror}",)}
        return {path: _stat(path) for path in (*files, *self._media)} | {LISTING: tuple(files)}

    def poll(self, force: bool = False) -> Playlist | None:
        """One step (the watcher thread's, or a test's without start()): a new playlist
        when a complete, valid edit has settled (or a reload was requested, `force`, and
        the files have settled), else None. Every outcome is also posted to `events`."""
        self._forced = self._forced or force
        fingerprint = self._look()
        if not self._forced and fingerprint == self._loaded:
            return None
        if not self._settled():
            return None
        forced, self._forced = self._forced, False
        result = self._read()
        if result is None:
            self._forced = forced  # still wanted, once they settle
            return None
        self._loaded = self._seen
        if result.playlist is None:
            self._rejected = True
            self._say_rejected("playlist edit rejected; the last good playlist keeps running", result.problems)
            self.events.put(PlaylistRejected(summary(result.problems)))
            return None
        if self._rejected:
            logger.info("the playlist files are valid again")
        self._rejected = False
        logger.info("playlist %s: %d creatives, %d rules", "reloaded on request" if forced else "reloaded",
                    len(result.playlist.creatives), len(result.playlist.rules))
        self._persist(result.playlist)
        self.events.put(PlaylistAccepted(result.playlist, forced=forced))
        return result.playlist

    # ----- settling -----------------------------------------------------------------------------

    def _look(self) -> Fingerprint:
        """The files now; when they differ from the newest look, they changed now."""
        fingerprint = self.fingerprint()
        if fingerprint != self._seen:
            self._seen, self._since, self._confirmed = fingerprint, self.clock(), False
        else:
            self._confirmed = True
        return fingerprint

    def _first_look(self) -> None:
        """Nothing watched yet: how long the files have been unchanged comes from their ctime."""
        self._seen = self.fingerprint()
        quiet = self._quiet_for(self._seen)
        self._since, self._confirmed = self.clock() - quiet, quiet >= self.settle

    def _settled(self) -> bool:
        return self._confirmed and self.clock() - self._since >= self.settle

    def _quiet_for(self, fingerprint: Fingerprint) -> float:
        """Seconds since the newest change (ctime) of these files by the wall clock; 0
        when that change lies in the future (the clock stepped back: watch instead)."""
        changes = [stat[3] for path, stats in fingerprint.items() if path != LISTING
                   for stat in stats if stat is not None]
        if not changes:
            return float("inf")  # no file at all: nothing is being written
        return max(0.0, self.wall() - max(changes) / 1e9)

    def _read(self) -> LoadResult | None:
        """Load the settled files; None when they changed while being read, or named media
        files that changed within `settle` seconds (still being written: neither accepted
        nor rejected yet)."""
        before = self._seen
        result = self._load()
        after = self.fingerprint()
        if any(after[path] != stat for path, stat in before.items() if path in after):
            self._seen, self._since, self._confirmed = after, self.clock(), False
            return None
        named = {path: stat for path, stat in after.items() if path not in before}
        quiet = self._quiet_for(named)
        self._seen = after
        if quiet < self.settle:  # media named for the first time, written moments ago
            self._since, self._confirmed = self.clock() - quiet, False
            return None
        return result

    def _load(self) -> LoadResult:
        result = load_playlist_set(self.paths, self.base, self.max_image_pixels, video_length=self.video_length)
        self._media = tuple(sorted(set(result.watched)))
        return result

    def _persist(self, playlist: Playlist) -> None:
        if self.state_file is None:
            return
        try:
            save(playlist, self.state_file)
        except OSError as exc:
            logger.warning("cannot save the last good playlist to %s: %s", self.state_file, exc)
