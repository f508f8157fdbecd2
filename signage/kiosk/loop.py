"""The frame loop: one `tick` of the main thread, as a list of steps.

Each step runs behind the kiosk's fault barrier (faults.py): a step that raises costs
that step (logged once per kind, counted, shown in status while it lasts), never the
loop. Each step is a method of the part that owns what it changes; the loop hands what
one part makes to the next: the audience to the rules, the rules' decision to the
screen, the finished plays and the interval's metrics to the uplink."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from signage.kiosk.problems import Problems
from signage.kiosk.uplink import Uplink

if TYPE_CHECKING:
    from signage.kiosk.app import Kiosk


def tick(kiosk: Kiosk) -> None:
    step, failing = kiosk.barrier.run, kiosk.barrier.failing
    if kiosk.reload_requested.is_set():
        kiosk.reload_requested.clear()
        step("reload", kiosk.reload_config)
    step("commands", kiosk.commands.apply)
    for event in kiosk.playlists.events():
        step("playlist", kiosk.playlists.take, event)
    for release in kiosk.releases.events():
        step("content", kiosk.releases.take, release)
    step("content thread", kiosk.releases.watch)
    step("privacy schedule", kiosk.privacy.follow_schedule, kiosk.wall())
    state = step("audience", kiosk.counter.count, kiosk.vision.dropped_since_last())
    decision = step("rules", kiosk.player.tick, state, kiosk.now()) if state is not None else None
    if decision is not None and decision.action == "start":
        step("show", kiosk.screen.show, decision.creative)
    step("display", kiosk.screen.draw)
    step("creative faults", kiosk.creative_faults.release)
    if failing("display"):
        step("display fallback", kiosk.screen.show_fallback)
        time.sleep(0.02)
    step("plays", kiosk.counter.send_plays, kiosk.player, False, kiosk.vision.running)
    if kiosk.counter.interval_over():
        step("metrics", kiosk.counter.send_metrics)
    if step("telemetry retry", kiosk.uplink.retry, kiosk.config, kiosk.privacy.on):
        step("status", kiosk.publish_status, True)  # the new link's first status, at once
    step("telemetry health", watch_telemetry, kiosk.uplink, kiosk.problems)
    step("held plays", watch_held, kiosk.counter.lost(), kiosk.problems)
    step("status", kiosk.publish_status)
    step("watchdog", kiosk.watchdog.feed, kiosk.stuck)


def watch_telemetry(uplink: Uplink, problems: Problems) -> None:
    """The spool's trouble is a problem while it lasts (status only reads problems)."""
    health = uplink.health()
    if health is not None and health.problem:
        problems.set("telemetry", health.problem)
    else:
        problems.clear("telemetry")


def watch_held(lost: str | None, problems: Problems) -> None:
    """Held plays a restart could not restore: a problem until the day they belonged to is over."""
    if lost:
        problems.set("held", lost)
    else:
        problems.clear("held")
