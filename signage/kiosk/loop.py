"""The frame loop: one `tick` of the main thread, as a list of steps (what it counts and
sends is in counting.py).

Each step runs behind the kiosk's fault barrier: a step that raises costs that step
(logged once, counted, shown in status while it lasts), never the loop. The steps are
functions of the kiosk, called on the main thread only."""

from __future__ import annotations

import logging
import time

from signage.kiosk import commands, playlists, privacy, reload, uplink
from signage.kiosk.counting import count_audience, send_metrics, send_plays

logger = logging.getLogger(__name__)


def tick(kiosk) -> None:
    step = kiosk.barrier.run
    if kiosk.reload_requested.is_set():
        kiosk.reload_requested.clear()
        step("reload", reload.reload_config, kiosk)
    step("commands", commands.apply_commands, kiosk)
    while kiosk.watcher is not None and not kiosk.watcher.events.empty():
        step("playlist", playlists.take_event, kiosk, kiosk.watcher.events.get())
    step("privacy schedule", privacy.follow_schedule, kiosk)
    step("rules", choose, kiosk)
    if step("display", render, kiosk) is None and kiosk.problems.get("fault:display"):
        step("display fallback", kiosk.renderer.show_fallback)
        time.sleep(0.02)
    step("plays", send_plays, kiosk)
    if kiosk.clock() - kiosk.last_metrics >= kiosk.config.mqtt.interval:
        kiosk.last_metrics = kiosk.clock()
        step("metrics", send_metrics, kiosk)
    step("telemetry retry", uplink.retry, kiosk)
    step("telemetry health", watch_telemetry, kiosk)
    step("status", kiosk.publish_status)
    step("watchdog", kiosk.watchdog.feed, kiosk.stuck)


def choose(kiosk) -> None:
    state = count_audience(kiosk)
    decision = kiosk.player.tick(state, kiosk.now())
    if decision.action == "start":
        kiosk.show(decision.creative)


def render(kiosk) -> bool:
    from signage.display.renderer import Ended, Failed, WindowClosed

    for event in kiosk.renderer.frame():
        current = kiosk.player.current
        if isinstance(event, Failed):
            kiosk.problems.set(f"creative:{event.content_id}", f"creative {event.content_id}: {event.reason}")
            if current and current.play.creative == event.content_id:
                kiosk.player.finished(kiosk.now(), "error")
        elif isinstance(event, Ended) and current and current.play.creative == event.content_id:
            kiosk.player.finished(kiosk.now(), "duration")
        elif isinstance(event, WindowClosed):
            logger.warning("the window was closed; opening it again")
            kiosk.renderer.reopen()
    return True


def watch_telemetry(kiosk) -> None:
    """The spool's trouble is a problem while it lasts (status only reads problems)."""
    health = kiosk.telemetry.health() if kiosk.telemetry is not None else None
    if health is not None and health.problem:
        kiosk.problems.set("telemetry", health.problem)
    else:
        kiosk.problems.clear("telemetry")
