"""Health: the status message (what a fleet team needs to see of one screen, now) and
which thread, if any, is stuck (for the systemd watchdog).

Pure: it reads the kiosk and telemetry's health snapshot and changes nothing (the
telemetry problem is kept up to date by a loop step, `loop.watch_telemetry`), so any
thread may build it."""

from __future__ import annotations

import time

from signage import __version__, build
from signage.playlist.watcher import MAX_BACKOFF_S as WATCHER_BACKOFF_S
from signage.wire.messages import STATUS_CREATIVES, Status

TELEMETRY_STARTING = {"broker": "connecting", "spool": "ok", "spool_depth": 0, "spool_held": 0, "spool_dropped": 0}


def status_of(kiosk, health) -> Status:
    """`health`: telemetry's `Health` snapshot, or None before telemetry started. Texts
    and counts are fitted to the message's bounds (a long error, a huge spool)."""
    renderer = kiosk.renderer
    hardware = kiosk.vision.hardware()
    return Status.fitted(
        device=kiosk.config.device, site=kiosk.config.site, version=__version__, lock=build.lock_hash(),
        uptime_s=int(kiosk.clock() - kiosk.started),
        playing=playing(kiosk),
        camera=kiosk.vision.camera_state(kiosk.privacy.on),
        playlist=kiosk.problems.get("playlist") or "ok",
        creatives=sorted(kiosk.player.playlist.creatives)[:STATUS_CREATIVES] if kiosk.player else [],
        privacy=kiosk.privacy.on,
        display=renderer.stats.state if renderer else "starting",
        **(health.status_fields() if health else TELEMETRY_STARTING),
        camera_format=hardware["camera"],
        edgetpu=hardware["edgetpu"],
        last_error=kiosk.problems.last,
        problems=kiosk.problems.all(),
        faults=(kiosk.barrier.total + kiosk.vision.faults + kiosk.watcher_faults + kiosk.retired_faults
                + (health.pump_errors if health else 0)),
    )


def playing(kiosk) -> str | None:
    """What the schedule has on screen, for the retained, real-time status: the creative
    the default loop, a daypart or a command chose (None: the fallback card). Content that
    an audience rule chose is never shown here, not even as "audience": the status is
    published the moment it changes, so the moment an audience rule fires would say that
    someone is in front of the screen, and its name what they do (a `smiles` rule for one
    viewer). The field keeps the schedule's last creative meanwhile; proof of play (the
    play message) tells what played, with what is safe to say about the people."""
    return kiosk.scheduled_on_screen


def stuck_thread(kiosk, stale: float) -> str | None:
    """A thread that made no progress within `stale` seconds, or None (the main thread
    is the caller, so it is alive). For the systemd watchdog."""
    culprit = kiosk.vision.stuck(stale)
    if culprit is None and kiosk.telemetry is not None and not kiosk.telemetry.alive(stale):
        culprit = "the telemetry thread"
    if culprit is None and kiosk.watcher is not None:
        if not kiosk.watcher.alive():
            culprit = "the playlist watcher thread (dead)"
        elif time.monotonic() - kiosk.watcher.last_progress > stale + WATCHER_BACKOFF_S:
            culprit = "the playlist watcher thread"  # stuck in a read, not in its back-off after a fault
    return culprit
