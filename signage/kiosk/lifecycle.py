"""The kiosk's signals and its orderly stop: SIGTERM and SIGINT stop it, SIGHUP asks for
a reload; the stop loses nothing that was counted or played."""

from __future__ import annotations

import logging
import signal
import threading

from signage.kiosk import uplink
from signage.kiosk.counting import count_audience, send_metrics, send_plays

logger = logging.getLogger(__name__)


def install_signals(kiosk) -> None:
    """Only the main thread may set handlers (a test runs the kiosk elsewhere: none then)."""
    if threading.current_thread() is not threading.main_thread():
        return
    handlers = {signal.SIGTERM: lambda *_: kiosk.stop_requested.set(),
                signal.SIGINT: lambda *_: kiosk.stop_requested.set(),
                signal.SIGHUP: lambda *_: kiosk.reload_requested.set()}
    kiosk.previous_handlers = {number: signal.signal(number, handler) for number, handler in handlers.items()}


def shutdown(kiosk, clean: bool) -> None:
    """Stop capture (the frame in analysis finishes), flush metrics and plays into the
    spool, publish the final status and `stopped` (a crash leaves the will, `offline`),
    close the window. Each step runs behind the barrier: one failing loses no other."""
    step = kiosk.barrier.run
    step("shutdown", kiosk.watchdog.notifier.stopping)
    if kiosk.watcher is not None:
        step("shutdown: playlist watcher", kiosk.watcher.stop)
    step("shutdown: vision", kiosk.vision.stop)
    if kiosk.player is not None and kiosk.telemetry is not None:
        step("shutdown: audience", count_audience, kiosk)
        step("shutdown: player", lambda: kiosk.player.stop(kiosk.now()))
        step("shutdown: plays", send_plays, kiosk)
        step("shutdown: metrics", send_metrics, kiosk)
    if kiosk.telemetry is not None:
        step("shutdown: telemetry", uplink.stop, kiosk.telemetry, kiosk.status, clean)
    if kiosk.renderer is not None:
        step("shutdown: display", kiosk.renderer.close)
    for number, handler in kiosk.previous_handlers.items():
        signal.signal(number, handler)
    logger.info("stopped" if clean else "stopped after an unexpected fault")
