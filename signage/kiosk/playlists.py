"""The kiosk's playlists: loaded at boot, then watched by their own thread.

The watcher thread alone touches the files and the watcher's state; the main thread
gets results through a queue (a new Playlist, or a `Rejected` saying why an edit was
refused) and asks for a reload through `request_reload`, never by loading itself.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signage.config import Config
from signage.playlist.loader import Playlist
from signage.playlist.watcher import PlaylistWatcher
from signage.yamlfile import ProblemsError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejected:
    """An edit was refused; the running playlist stays."""
    reason: str


class WatchedPlaylists:
    def __init__(self, config: Config):
        self._watcher = PlaylistWatcher([Path(config.playlists)])
        self._reload = threading.Event()
        self._retarget: Config | None = None
        self.faults = 0

    def load_at_boot(self) -> tuple[Playlist, str | None]:
        """(playlist, problem): the files, or nothing and why (the fallback plays)."""
        try:
            return self._watcher.load_now(), None
        except ProblemsError as exc:
            logger.error("the playlists cannot be loaded; showing the fallback until they are fixed:\n%s", exc)
            return Playlist.nothing(), f"rejected: {exc}"
        except Exception as exc:  # noqa: BLE001 - a loader bug must not keep the kiosk from starting
            self.faults += 1
            logger.exception("the playlists cannot be loaded (unexpected fault); showing the fallback")
            return Playlist.nothing(), f"rejected: unexpected {type(exc).__name__} while loading: {str(exc)[:200]}"

    def request_reload(self) -> None:
        """Main thread: load the files now (SIGHUP, the MQTT reload command)."""
        self._reload.set()

    def retarget(self, config: Config) -> None:
        """Main thread: watch another folder from now on (a reloaded configuration)."""
        self._retarget = config
        self._reload.set()

    def serve(self, put: Callable[[object], None], stop: threading.Event, interval: float) -> None:
        """The watcher thread's loop: results go to `put`. Survives any fault."""
        while not stop.is_set():
            try:
                if self._reload.is_set():
                    self._reload.clear()
                    self._serve_reload(put)
                else:
                    self._serve_poll(put)
            except Exception as exc:  # noqa: BLE001 - the fault barrier of this thread
                self.faults += 1
                logger.exception("unexpected fault in the playlist watcher; it carries on")
                put(Rejected(f"unexpected {type(exc).__name__} while loading: {str(exc)[:200]}"))
                stop.wait(5 * interval)
            self._reload.wait(interval)

    def _serve_poll(self, put) -> None:
        before = self._watcher.error
        playlist = self._watcher.poll()
        if playlist is not None:
            put(playlist)
        elif self._watcher.error is not None and self._watcher.error != before:
            put(Rejected(self._watcher.error))

    def _serve_reload(self, put) -> None:
        if self._retarget is not None:
            config, self._retarget = self._retarget, None
            self._watcher = PlaylistWatcher([Path(config.playlists)])
        try:
            put(self._watcher.load_now())
        except ProblemsError as exc:
            self._watcher.error = str(exc)
            logger.error("playlist reload rejected; the last good playlist keeps running:\n%s", exc)
            put(Rejected(str(exc)))
