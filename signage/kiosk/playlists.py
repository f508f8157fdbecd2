"""The kiosk's playlists: what plays at boot, and what the playlist watcher reports
(a new playlist, a rejected edit, its own fault). Main thread only."""

from __future__ import annotations

import logging
from pathlib import Path

from signage.config import Config
from signage.kiosk.content import content_of
from signage.kiosk.problems import Problems
from signage.playlist.lastgood import save
from signage.playlist.loader import Playlist
from signage.playlist.watcher import PlaylistAccepted, PlaylistRejected, PlaylistWatcher, WatcherFault

logger = logging.getLogger(__name__)


def watcher_for(config: Config, keep_last_good: bool = True) -> PlaylistWatcher:
    """keep_last_good=False: a watcher that neither falls back on the last good playlist
    nor saves one (a reload trying a new folder; `keep_last_good` once it is adopted)."""
    from signage.display.videoinfo import video_length

    return PlaylistWatcher([Path(config.playlists)], video_length=video_length,
                           state_file=config.paths.last_good_playlist if keep_last_good else None,
                           max_image_pixels=config.display.max_image_pixels)


def keep_last_good(watcher: PlaylistWatcher, playlist: Playlist, state_file: Path) -> None:
    """From now on the watcher saves each playlist it accepts; this one is saved now."""
    watcher.state_file = state_file
    try:
        save(playlist, state_file)
    except OSError as exc:
        logger.warning("cannot save the last good playlist to %s: %s", state_file, exc)


def boot(watcher: PlaylistWatcher, problems: Problems) -> Playlist:
    """The playlist files if they load; else the last good playlist persisted by an
    earlier run; else nothing (the fallback card). Never raises: the screen is lit and
    status says what is wrong."""
    try:
        loaded = watcher.boot()
    except Exception as exc:  # noqa: BLE001 - a loader bug must not keep the kiosk from starting
        logger.exception("the playlists cannot be loaded (unexpected fault); showing the fallback")
        problems.set("playlist", f"rejected: unexpected {type(exc).__name__} while loading: {str(exc)[:200]}")
        return Playlist.nothing()
    if loaded.source == "last-good":
        problems.set("playlist", f"rejected: {loaded.problems}\n(playing the last good playlist saved earlier)")
    elif loaded.problems:
        problems.set("playlist", f"rejected: {loaded.problems}")
    else:
        problems.clear("playlist")
    return loaded.playlist if loaded.playlist is not None else Playlist.nothing()


def adopt(kiosk, playlist: Playlist) -> None:
    """A new playlist (at boot, from the watcher or a reload): swapped in at the next
    boundary; problems about creatives are re-checked against it."""
    kiosk.player.replace_playlist(playlist, kiosk.now())
    kiosk.problems.clear_where(lambda topic: topic.startswith("creative:"))
    if kiosk.renderer is not None:  # pictures of creatives edited away are never shown again
        kiosk.renderer.keep_only(content_of(playlist, creative) for creative in playlist.creatives)
    if kiosk.telemetry is not None and kiosk.telemetry.state("creative") not in (None, "", *playlist.creatives):
        kiosk.telemetry.set_state("creative", "")  # the creative last asked for is gone


def take_event(kiosk, event) -> None:
    if isinstance(event, PlaylistAccepted):
        kiosk.problems.clear("playlist")
        kiosk.problems.clear("playlist watcher")
        adopt(kiosk, event.playlist)
    elif isinstance(event, PlaylistRejected):
        kiosk.problems.clear("playlist watcher")  # it works again: a rejection is an answer
        kiosk.problems.set("playlist", f"rejected: {event.problems}")
    elif isinstance(event, WatcherFault):
        kiosk.watcher_faults = event.count
        kiosk.problems.set("playlist watcher", event.message)
