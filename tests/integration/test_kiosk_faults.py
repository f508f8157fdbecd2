"""The kiosk's own fault barrier, and booting on broken playlists: whatever fails in
one step of the loop costs that step, is reported while it lasts, and the screen stays
lit; a kiosk whose playlists are broken or missing at boot opens its window, shows the
fallback card, says why in status and picks the files up once they are fixed."""

from __future__ import annotations

import shutil

import pytest

from tests.kiosk import DEFAULT_LOOP, E2E, on_screen, run_with, schedule_only
from tests.support.waiting import wait_for


def flaky(real, failures: int, exc: Exception):
    """`real`, failing the first `failures` calls with `exc`."""
    calls = {"n": 0}

    def call(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc
        return real(*args, **kwargs)

    return call


# Each member of the class "a step of the main loop raises something nobody foresaw":
# the step's name, and the part and method it calls.
STEPS = {
    "rules": lambda c: (c.player, "tick"),
    "display": lambda c: (c.screen.renderer, "frame"),
    "status": lambda c: (c.status_publisher, "maybe_publish"),
    "impressions": lambda c: (c.counter.aggregator, "add_play"),  # once per play published: every 3 s
    "watchdog": lambda c: (c.watchdog, "feed"),
}
ERRORS = [RuntimeError("boom"), KeyError("gone"), ValueError("A null character was found in the text"),
          ZeroDivisionError("division by zero"), MemoryError()]


@pytest.mark.parametrize("step,error", list(zip(STEPS, ERRORS)), ids=list(STEPS))
def test_a_step_that_raises_costs_the_step_not_the_kiosk(controller_for, tmp_path, step, error):
    if step == "impressions":  # counted as plays are published: as they end, without audience rules
        schedule_only(tmp_path)
    controller = controller_for()

    def script(c):
        owner, method = STEPS[step](c)
        setattr(owner, method, flaky(getattr(owner, method), 1 if step == "impressions" else 40, error))
        wait_for(lambda: any(step in p for p in c.status()["problems"]), f"{step} fault in status")
        assert c.status()["faults"] >= 1
        on_screen(c)
        wait_for(lambda: not any(step in p for p in c.status()["problems"]), f"{step} fault cleared once it stops",
                 timeout=60)  # the look creative plays 20 s: impressions come once per play
        ticks = c.renderer.stats.ticks
        wait_for(lambda: c.renderer.stats.ticks > ticks + 5, "the loop still turning")

    run_with(controller, script)


def test_boot_with_a_broken_playlist_shows_the_fallback_and_recovers(controller_for, tmp_path):
    playlists = tmp_path / "playlists"
    shutil.copytree(E2E, playlists)
    playlist = playlists / "e2e.yaml"
    good = playlist.read_text()
    playlist.write_text(good.replace("duration: 3", "duration: soon", 1))
    controller = controller_for()

    def script(c):
        assert c.renderer.stats.showing == "fallback"
        assert c.status()["playlist"].startswith("rejected")
        assert "expected a number, got 'soon'" in c.status()["playlist"]
        playlist.write_text(good)
        wait_for(lambda: c.status()["playlist"] == "ok", "playlist picked up once fixed")
        wait_for(lambda: on_screen(c) in DEFAULT_LOOP | {"look"}, "the playlist plays", timeout=15)

    run_with(controller, script)


@pytest.mark.parametrize("damage", ["missing folder", "empty folder", "recursive alias", "binary file"])
def test_boot_without_usable_playlists_keeps_the_window_lit(controller_for, tmp_path, damage):
    playlists = tmp_path / "playlists"
    shutil.copytree(E2E, playlists)
    overrides = {}
    if damage == "missing folder":
        overrides["playlists"] = str(tmp_path / "nowhere")
    elif damage == "empty folder":
        (playlists / "e2e.yaml").unlink()
    elif damage == "recursive alias":
        (playlists / "e2e.yaml").write_text("creatives: &x [*x]\ndefault: [a]\n")
    else:
        (playlists / "e2e.yaml").write_bytes(bytes(range(256)) * 8)
    controller = controller_for(**overrides)

    def script(c):
        assert c.renderer.stats.showing == "fallback"
        assert c.status()["playlist"] != "ok"
        ticks = c.renderer.stats.ticks
        wait_for(lambda: c.renderer.stats.ticks > ticks + 10, "the loop keeps turning")

    run_with(controller, script)


def test_sighup_applies_all_of_the_config_and_a_rejected_reload_clears_later(controller_for, broker, tmp_path):
    from tests.subscriber import Subscriber

    subscriber = Subscriber(broker.url, "signage/#")
    controller = controller_for()
    config_file = tmp_path / "config.yaml"
    original = config_file.read_text()

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected", "connected")
        config_file.write_text(original.replace("site: lab", "site: [not, a, site]")
                               .replace("keepalive: 5}", "keepalive: 5, password: 98765432}"))
        c.reload()
        wait_for(lambda: (c.status()["last_error"] or "").startswith("config reload rejected"), "rejection")
        assert c.status()["site"] == "lab", "a broken file changes nothing"
        assert "config.yaml:" in c.status()["last_error"] and "mqtt.password" in c.status()["last_error"]
        assert "98765432" not in str(c.status()), "status says where, never the value (a secret, here)"
        changed = (original.replace("device: faults", "device: renamed")
                   .replace("size: [320, 180]", "size: [400, 200]")
                   .replace("interval: 1,", "interval: 2,"))
        config_file.write_text(changed)
        c.reload()
        wait_for(lambda: c.status()["device"] == "renamed", "new device id")
        assert c.status()["last_error"] is None, "the rejection is history once a reload succeeds"
        wait_for(lambda: c.renderer.screen is not None and c.renderer.screen.size == (400, 200),
                 "the window took the new size")
        assert c.config.mqtt.interval == 2
        subscriber.wait_for(lambda m: m.topic == "signage/lab/renamed/status", timeout=15)
        subscriber.wait_for(lambda m: m.topic == "signage/lab/renamed/available" and m.payload == b"online")
        subscriber.wait_for(lambda m: m.topic == "signage/lab/faults/available" and m.payload == b"stopped")
        on_screen(c)

    try:
        run_with(controller, script)
    finally:
        subscriber.close()


def test_a_playlist_watcher_stuck_in_a_read_is_named_for_the_watchdog(controller_for, monkeypatch):
    """A poll that never returns (a hung network filesystem) stops the watcher's progress:
    the watchdog is told, after the watcher's own back-off has been allowed for."""
    import threading

    from signage.kiosk import health as module

    monkeypatch.setattr(module, "WATCHER_BACKOFF_S", 0.5)
    controller = controller_for()
    release = threading.Event()

    def script(c):
        assert c.stuck(1.0) is None
        real = c.watcher.poll
        c.watcher.poll = lambda *a, **k: release.wait(30) or real(*a, **k)  # hangs until released
        c.watcher.request_reload()  # wake it now rather than at its next poll
        try:
            wait_for(lambda: c.stuck(1.0) == "the playlist watcher thread", "the hung watcher is named", timeout=10)
        finally:
            release.set()
        wait_for(lambda: c.stuck(1.0) is None, "progress again once it returns", timeout=10)

    run_with(controller, script)
