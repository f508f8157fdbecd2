"""Hot reload: notice edited playlist files, load them once they are complete, keep
the last good playlist when an edit is broken.

Polling (every 0.5 s by default) works on every filesystem and needs no extra
dependency. A change is loaded only after the files looked the same on two polls
in a row, so a file an editor is still writing is never loaded half-written; and
even then the whole set must validate before it replaces the running playlist.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from signage.playlist.loader import Playlist, load_playlist, playlist_files
from signage.yamlfile import ProblemsError

logger = logging.getLogger(__name__)


class PlaylistWatcher:
    def __init__(self, paths: list[Path], base: Path | None = None):
        self.paths = paths
        self.base = base
        self.last_good: Playlist | None = None
        self.error: str | None = None  # why the newest edit was rejected; None when it loaded
        self._loaded: str | None = None  # fingerprint of what was last loaded (or rejected)
        self._seen: str | None = None  # fingerprint at the previous poll

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in playlist_files(self.paths):
            try:
                digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
            except OSError:
                digest.update(str(path).encode() + b"\0<unreadable>\0")
        return digest.hexdigest()

    def load_now(self) -> Playlist:
        """First load at start-up: raises ProblemsError when the files are broken."""
        fingerprint = self.fingerprint()
        playlist = load_playlist(self.paths, self.base)
        self.last_good, self.error = playlist, None
        self._loaded = self._seen = fingerprint
        return playlist

    def poll(self) -> Playlist | None:
        """A new playlist when a complete, valid edit has just been seen, else None."""
        fingerprint = self.fingerprint()
        stable = fingerprint == self._seen
        self._seen = fingerprint
        if not stable or fingerprint == self._loaded:
            return None
        self._loaded = fingerprint
        try:
            playlist = load_playlist(self.paths, self.base)
        except ProblemsError as exc:
            self.error = str(exc)
            logger.error("playlist edit rejected; the last good playlist keeps running:\n%s", exc)
            return None
        self.last_good, self.error = playlist, None
        logger.info("playlist reloaded: %d creatives, %d rules", len(playlist.creatives), len(playlist.rules))
        return playlist
