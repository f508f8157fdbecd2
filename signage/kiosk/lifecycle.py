"""The kiosk's signals and its orderly stop: SIGTERM and SIGINT stop it, SIGHUP asks for
a reload; the stop loses nothing that was counted or played."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signage.kiosk.app import Kiosk

logger = logging.getLogger(__name__)

Handlers = dict[int, Any]


def install_signals(stop: threading.Event, reload: threading.Event) -> Handlers:
    """The handlers that were there before, to put back at the end. Only the main thread
    may set handlers (a test runs the kiosk elsewhere: none then)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    handlers = {signal.SIGTERM: lambda *_: stop.set(), signal.SIGINT: lambda *_: stop.set(),
                signal.SIGHUP: lambda *_: reload.set()}
    return {number: signal.signal(number, handler) for number, handler in handlers.items()}


def restore_signals(previous: Handlers) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def shutdown(kiosk: Kiosk, clean: bool) -> None:
    """Stop capture (the frame in analysis finishes), flush metrics and plays into the
    spool, publish the final status and `stopped` (a crash leaves the will, `offline`),
    close the window. Each step runs behind the barrier: one failing loses no other."""
    step = kiosk.barrier.run
    step("shutdown", kiosk.watchdog.notifier.stopping)
    step("shutdown: playlist watcher", kiosk.playlists.stop)
    step("shutdown: content", kiosk.releases.stop)
    step("shutdown: vision", kiosk.vision.stop)
    if kiosk.uplink.link is not None:
        step("shutdown: audience", kiosk.counter.count)
        step("shutdown: player", lambda: kiosk.player.stop(kiosk.now()))
        step("shutdown: plays", kiosk.counter.send_plays, kiosk.player, True, False)  # and all that is held
        step("shutdown: metrics", kiosk.counter.send_metrics)
    step("shutdown: creative faults", kiosk.creative_faults.release, True)  # held ones, as the plays
    step("shutdown: telemetry", kiosk.uplink.stop, kiosk.status, clean)
    step("shutdown: display", kiosk.screen.close)
    logger.info("stopped" if clean else "stopped after an unexpected fault")
