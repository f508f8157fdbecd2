"""Health: the status message (what a fleet team needs to see of one screen, now) and
which thread, if any, is stuck (for the systemd watchdog).

Pure: it reads the kiosk's parts and telemetry's health snapshot and changes nothing
(the telemetry problem is kept up to date by a loop step, `loop.watch_telemetry`), so
any thread may build it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from signage import __version__, build
from signage.kiosk.playlists import Playlists
from signage.kiosk.releases import Releases
from signage.kiosk.uplink import Uplink
from signage.kiosk.vision import VisionStage
from signage.playlist.watcher import MAX_BACKOFF_S as WATCHER_BACKOFF_S
from signage.wire.messages import STATUS_CREATIVES, Status
from signage.telemetry.mqtt import Health

if TYPE_CHECKING:
    from signage.kiosk.app import Kiosk

TELEMETRY_STARTING = {"broker": "connecting", "spool": "ok", "spool_depth": 0, "spool_held": 0, "spool_dropped": 0}


def status_of(kiosk: Kiosk, health: Health | None) -> Status:
    """`health`: telemetry's `Health` snapshot, or None before telemetry started. Texts
    and counts are fitted to the message's bounds (a long error, a huge spool)."""
    renderer = kiosk.screen.renderer
    hardware = kiosk.vision.hardware()
    return Status.fitted(
        device=kiosk.config.device, site=kiosk.config.site, version=__version__, lock=build.lock_hash(),
        uptime_s=int(kiosk.clock() - kiosk.started),
        playing=kiosk.screen.scheduled,
        camera=kiosk.vision.camera_state(kiosk.privacy.on),
        playlist=kiosk.problems.get("playlist") or "ok",
        creatives=sorted(kiosk.player.playlist.creatives)[:STATUS_CREATIVES],
        privacy=kiosk.privacy.on,
        display=renderer.stats.state if renderer else "starting",
        **(health.status_fields() if health else TELEMETRY_STARTING),
        camera_format=hardware["camera"],
        edgetpu=hardware["edgetpu"],
        last_error=kiosk.problems.last,
        problems=kiosk.problems.all(),
        faults=(kiosk.barrier.total + kiosk.vision.faults + kiosk.playlists.faults + kiosk.uplink.retired_faults
                + kiosk.releases.faults + (health.pump_errors if health else 0)),
        content=kiosk.releases.state(),
    )


def stuck_thread(vision: VisionStage, uplink: Uplink, playlists: Playlists, releases: Releases,
                 stale: float) -> str | None:
    """A thread that made no progress within `stale` seconds, or None (the main thread
    is the caller, so it is alive). For the systemd watchdog."""
    culprit = vision.stuck(stale)
    if culprit is None and not uplink.alive(stale):
        culprit = "the telemetry thread"
    watcher = playlists.watcher
    if culprit is None and watcher is not None:
        if not watcher.alive():
            culprit = "the playlist watcher thread (dead)"
        elif time.monotonic() - watcher.last_progress > stale + WATCHER_BACKOFF_S:
            culprit = "the playlist watcher thread"  # stuck in a read, not in its back-off after a fault
    if culprit is None and releases.hung(stale):
        culprit = "the content thread"  # hung in a read (a dead one is started again by a loop step)
    return culprit
