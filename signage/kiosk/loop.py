"""The frame loop: one `tick` of the main thread, as a list of steps.

Each step runs behind the kiosk's fault barrier: a step that raises costs that step
(logged once, counted, shown in status while it lasts), never the loop. The steps are
functions of the kiosk, called on the main thread only."""

from __future__ import annotations

import logging
import time

from signage.audience import AudienceState
from signage.kiosk import commands, playlists, privacy, reload
from signage.telemetry.messages import Message
from signage.telemetry.metrics import play_message

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
    if kiosk._clock() - kiosk.last_metrics >= kiosk.config.mqtt.interval:
        kiosk.last_metrics = kiosk._clock()
        step("metrics", send_metrics, kiosk)
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


def count_audience(kiosk) -> AudienceState:
    state, snapshots = kiosk.handoff.take()
    for snapshot in snapshots:
        kiosk.aggregator.add_snapshot(snapshot)
    kiosk.aggregator.add_dropped_frames(kiosk.vision.dropped_since_last() + kiosk.handoff.take_lost())
    return state


def send_plays(kiosk) -> None:
    records, kiosk.player.records = kiosk.player.records, []
    config = kiosk.config
    for record in records:  # the proof of play first: a fault in counting must not lose it
        send(kiosk, "play", play_message(record, config.site, config.device, config.privacy.min_group))
        kiosk.barrier.run("impressions", kiosk.aggregator.add_play, record.creative, record.peak_looking >= 1)


def send_metrics(kiosk) -> None:
    """The interval so far, as a metrics message; a new interval begins."""
    send(kiosk, "metrics", kiosk.aggregator.flush(kiosk._wall()))


def send(kiosk, kind: str, message: Message) -> None:
    if kiosk.telemetry is not None:
        kiosk.telemetry.send(kind, message.payload())  # never raises: telemetry holds what it cannot spool


def watch_telemetry(kiosk) -> None:
    """The spool's trouble is a problem while it lasts (status only reads problems)."""
    health = kiosk.telemetry.health() if kiosk.telemetry is not None else None
    if health is not None and health.problem:
        kiosk.problems.set("telemetry", health.problem)
    else:
        kiosk.problems.clear("telemetry")
