"""The kiosk's playlists: what plays at boot, and what the playlist watcher reports
(a new playlist, a rejected edit, its own fault). Main thread only."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterator

from signage.config import Config
from signage.kiosk.problems import Problems
from signage.kiosk.screen import Screen
from signage.kiosk.uplink import Uplink
from signage.playlist.lastgood import save
from signage.playlist.loader import Playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.watcher import Event, PlaylistAccepted, PlaylistRejected, PlaylistWatcher, WatcherFault

logger = logging.getLogger(__name__)


def watcher_for(config: Config, keep_last_good: bool = True) -> PlaylistWatcher:
    """keep_last_good=False: a watcher that neither falls back on the last good playlist
    nor saves one (a reload trying a new folder; `keep_last_good` once it is adopted)."""
    from signage.display.videoinfo import video_length

    return PlaylistWatcher([Path(config.playlists)], video_length=video_length,
                           state_file=config.paths.last_good_playlist if keep_last_good else None,
                           max_image_pixels=config.display.max_image_pixels,
                           awaiting=f"the first release from {config.content.url}" if config.content.url else None)


def keep_last_good(watcher: PlaylistWatcher, playlist: Playlist | None, state_file: Path) -> None:
    """From now on the watcher saves each playlist it accepts; this one (if any) is saved now."""
    watcher.save_last_good_to(state_file)
    if playlist is None:
        return
    try:
        save(playlist, state_file)
    except OSError as exc:
        logger.warning("cannot save the last good playlist to %s: %s", state_file, exc)


WAITING = "waiting for its first release"


def first_release(config: Config) -> str | None:
    """The content URL while the screen waits for its first release from it (the
    playlists folder, the content folder's `current` link, is not made yet); else None."""
    if config.content.url is None or os.path.lexists(config.playlists):
        return None
    return config.content.url


def boot(watcher: PlaylistWatcher, problems: Problems, waiting_on: str | None = None) -> Playlist:
    """The playlist files if they load; else the last good playlist persisted by an
    earlier run; else nothing (the fallback card). Never raises: the screen is lit and
    status says what is wrong. `waiting_on`: the content URL a first release is awaited
    from (no playlist files yet is then no rejection)."""
    try:
        loaded = watcher.boot()
    except Exception as exc:  # noqa: BLE001 - a loader bug must not keep the kiosk from starting
        logger.exception("the playlists cannot be loaded (unexpected fault); showing the fallback")
        problems.set("playlist", f"rejected: unexpected {type(exc).__name__} while loading: {str(exc)[:200]}")
        return Playlist.nothing()
    if waiting_on is not None and (loaded.playlist is None or loaded.source == "last-good"):
        meanwhile = "the last good playlist saved earlier" if loaded.source == "last-good" else "the fallback card"
        problems.set("playlist", f"{WAITING} from {waiting_on} (playing {meanwhile})")
        logger.info("the screen waits for its first release from %s; playing %s meanwhile", waiting_on, meanwhile)
    elif loaded.source == "last-good":
        problems.set("playlist", f"rejected: {loaded.problems}\n(playing the last good playlist saved earlier)")
    elif loaded.problems:
        problems.set("playlist", f"rejected: {loaded.problems}")
    else:
        problems.clear("playlist")
    return loaded.playlist if loaded.playlist is not None else Playlist.nothing()


def adopt(player: Player, problems: Problems, uplink: Uplink, screen: Screen, playlist: Playlist, now: Now) -> None:
    """A new playlist (at boot, from the watcher or a reload): swapped in at the next
    boundary; problems about creatives are re-checked against it."""
    player.replace_playlist(playlist, now)
    problems.clear_where(lambda topic: topic.startswith("creative:"))
    screen.keep_only(playlist)  # pictures of creatives edited away are never shown again
    if uplink.state("creative") not in (None, "", *playlist.creatives):
        uplink.set_state("creative", "")  # the creative last asked for is gone


class Playlists:
    """The playlist watcher (its own thread; a reload may replace it) and what it
    reports, for the player. `faults` counts the watchers' faults since the start."""

    def __init__(self, problems: Problems, player: Player, uplink: Uplink, screen: Screen, now: Callable[[], Now]):
        self._problems, self._player, self._uplink, self._screen, self._now = problems, player, uplink, screen, now
        self.watcher: PlaylistWatcher | None = None
        self._config: Config | None = None  # the running configuration's (first_release)
        self._faults = 0  # of the running watcher, as its newest fault event counted them
        self._retired_faults = 0  # of the watchers a reload replaced

    @property
    def faults(self) -> int:
        return self._retired_faults + self._faults

    def boot(self, config: Config) -> None:
        """The watcher for `config`, and its first playlist adopted (not started yet)."""
        self.watcher, self._config = watcher_for(config), config
        self.adopt(boot(self.watcher, self._problems, first_release(config)))

    def follow(self, config: Config) -> None:
        """A reload: the configuration `first_release` reads."""
        self._config = config

    def await_first_release(self, config: Config) -> None:
        """A reload to a content folder with no release yet: the playlist playing plays on until one comes."""
        self._problems.set("playlist", f"{WAITING} from {first_release(config)} (playing the playlists that "
                                       "played before)")

    def adopt(self, playlist: Playlist) -> None:
        adopt(self._player, self._problems, self._uplink, self._screen, playlist, self._now())

    def start(self) -> None:
        self._booted().start()

    def request_reload(self) -> None:
        self._booted().request_reload()

    def _booted(self) -> PlaylistWatcher:
        if self.watcher is None:
            raise RuntimeError("the playlists are not booted yet (Playlists.boot)")
        return self.watcher

    def events(self) -> Iterator[Event]:
        """What the watcher reported since the last look (each taken by `take`)."""
        while self.watcher is not None and not self.watcher.events.empty():
            yield self.watcher.events.get()

    def take(self, event: Event) -> None:
        if isinstance(event, PlaylistAccepted):
            self._problems.clear("playlist")
            self._problems.clear("playlist watcher")
            self.adopt(event.playlist)
        elif isinstance(event, PlaylistRejected):
            self._problems.clear("playlist watcher")  # it works again: a rejection is an answer
            if self._still_waiting():
                return  # no release yet: what plays meanwhile is unchanged, and so is what status says
            self._problems.set("playlist", f"rejected: {event.problems}")
        elif isinstance(event, WatcherFault):
            self._faults = event.count
            self._problems.set("playlist watcher", event.message)

    def _still_waiting(self) -> bool:
        said = self._problems.get("playlist") or ""
        return self._config is not None and first_release(self._config) is not None and said.startswith(WAITING)

    def replace(self, watcher: PlaylistWatcher) -> PlaylistWatcher | None:
        """A reload: `watcher` (booted) starts and becomes the watcher; the old one is
        returned, to stop. If the new one cannot start, the old one goes on with the old
        playlists (and the fault shows in status)."""
        watcher.start()
        old, self.watcher = self.watcher, watcher
        self._retired_faults += self._faults  # the new watcher counts from zero
        self._faults = 0
        return old

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
