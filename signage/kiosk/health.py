"""The status message: what a fleet team needs to see of one screen, now."""

from __future__ import annotations

from signage import __version__
from signage.telemetry.messages import SCHEMA_VERSION


def status_of(kiosk) -> dict:
    current = kiosk.player.current if kiosk.player else None
    health = kiosk.telemetry.health() if kiosk.telemetry else None
    if health is not None and health.problem:  # the spool's trouble is a problem while it lasts
        kiosk.problems.set("telemetry", health.problem)
    else:
        kiosk.problems.clear("telemetry")
    renderer = kiosk.renderer
    playlist_problem = kiosk.problems.get("playlist")
    hardware = kiosk.vision.hardware()
    return {
        "schema": SCHEMA_VERSION, "device": kiosk.config.device, "site": kiosk.config.site, "version": __version__,
        "uptime_s": int(kiosk._clock() - kiosk.started),
        "playing": playing(current),
        "camera": kiosk.vision.camera_state(kiosk.privacy),
        "playlist": playlist_problem or "ok",
        "privacy": kiosk.privacy,
        "display": renderer.stats.state if renderer else "starting",
        **(health.status_fields() if health else
           {"broker": "connecting", "spool": "ok", "spool_depth": 0, "spool_held": 0, "spool_dropped": 0}),
        "camera_format": hardware["camera"],
        "edgetpu": hardware["edgetpu"],
        "last_error": kiosk.problems.last,
        "problems": kiosk.problems.all(),
        "faults": kiosk.barrier.total + kiosk.vision.faults + kiosk.watcher_faults
        + (health.pump_errors if health else 0),
    }


def playing(current) -> str | None:
    """What is on screen, for the retained, real-time status. A creative that an audience
    rule chose is published as "audience": its name, the moment it starts, would say what
    the few people in front of the screen are doing (a `smiles` rule for one viewer).
    Proof of play (the play message) names it, with what is safe to say about them."""
    if current is None or not current.play.creative:
        return None
    return "audience" if current.audience else current.play.creative
