"""SIGHUP is all or nothing: a configuration that cannot be applied in full changes
nothing. Each member of the class "a new config.yaml that cannot run" (it does not
parse; it validates but its spool folder cannot be created; its TLS CA file vanished;
its CA file is not a certificate; its playlist folder does not exist; its video does
not exist; its model folder is empty) also renames the device, so that a partial
apply would show. Against a real kiosk (X server, broker, vision on the sample video):
the old configuration keeps running (status still published under the old name, the
same creatives on screen), status names file:line:col and the key and quotes nothing
from the file, and a good configuration applies afterwards."""

from __future__ import annotations

import re

from signage.errors import SignageError
from signage.modelfiles import PROJECT_ROOT
from tests.kiosk import DEFAULT_LOOP, make_config, on_screen, refuse_display_size, run_with
from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

PLAYLIST = DEFAULT_LOOP | {"look"}
SECRET = "do-not-quote-4711"  # in every bad file: status must never show it


def members(tmp_path):
    """(name, the key status must name, config overrides) for each way to fail."""
    vanished = tmp_path / "vanished-ca.pem"
    not_a_certificate = tmp_path / "not-a-certificate.pem"
    not_a_certificate.write_text(f"-----BEGIN CERTIFICATE-----\n{SECRET}\n-----END CERTIFICATE-----\n")
    empty_models = tmp_path / "empty-models"
    empty_models.mkdir()
    broker_url = "{url}"  # filled in per test
    mqtt = "{url: '%s', interval: 1, keepalive: 5, %s}"
    return [
        ("does not parse", None, {"site": f"[{SECRET}, unclosed"}),
        ("spool folder cannot be created", "paths.spool",
         {"paths": f"{{spool: /proc/{SECRET}/spool.sqlite3}}"}),
        ("TLS CA file vanished", "mqtt.tls.ca", {"mqtt": mqtt % (broker_url, f"tls: {{ca: '{vanished}'}}")},
         vanished),
        ("CA file is not a certificate", "mqtt", {"mqtt": mqtt % (broker_url, f"tls: {{ca: '{not_a_certificate}'}}")}),
        ("playlist folder does not exist", "playlists", {"playlists": str(tmp_path / SECRET / "playlists")}),
        ("video does not exist", "source", {"source": f"{{kind: video, path: {tmp_path / SECRET}.mp4}}"}),
        ("model folder is empty", "paths.models",
         {"paths": f"{{spool: {tmp_path / 'spool.sqlite3'}, models: {empty_models}}}"}),
        ("model folder is empty while the source changes too", "paths.models",  # the part that failed is named
         {"paths": f"{{spool: {tmp_path / 'spool.sqlite3'}, models: {empty_models}}}",
          "source": f"{{kind: video, path: {PROJECT_ROOT / 'samples' / 'no_face.mp4'}}}"}),
    ]


def test_a_config_that_cannot_run_changes_nothing_and_a_good_one_applies(controller_for, broker, tmp_path):
    subscriber = Subscriber(broker.url, "signage/#")
    controller = controller_for()
    config_file = tmp_path / "config.yaml"

    def rewrite(**overrides):
        try:  # make_config writes the file, then loads it as the kiosk will
            make_config(tmp_path, broker.url, device="renamed", **overrides)
        except SignageError:
            pass

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected" and on_screen(c) in PLAYLIST, "playing, connected")
        creatives = set(c.player.playlist.creatives)
        running = c.config
        for name, key, overrides, *vanishing in members(tmp_path):
            if "mqtt" in overrides:
                overrides["mqtt"] = overrides["mqtt"].replace("{url}", broker.url)
            for path in vanishing:
                path.write_text("-----BEGIN CERTIFICATE-----\n")  # there when the file is written...
            rewrite(**overrides)
            for path in vanishing:
                path.unlink()  # ... gone when the kiosk reads it
            published = len(subscriber.on("lab/faults/status"))
            c.reload()
            where = rf"config reload rejected: {re.escape(str(config_file))}:\d+:\d+" + (
                rf" \({re.escape(key)}\):" if key else r"(?: \([^)]*\))?:")
            # The reload is over once the loop that took the request turned again (the previous
            # member's rejection may read the same, so status is read after, not waited for).
            wait_for(lambda: not c.reload_requested.is_set(), f"{name}: the reload taken")
            ticks = c.renderer.stats.ticks
            wait_for(lambda ticks=ticks: c.renderer.stats.ticks > ticks + 2,
                     f"{name}: the loop turned after the reload")
            status = c.status()
            assert re.match(where, status["last_error"] or ""), \
                f"{name}: rejected, naming file:line:col and {key}: {status['last_error']}"
            assert SECRET not in str(status), f"{name}: status quotes nothing from the file"
            assert (status["site"], status["device"]) == ("lab", "faults"), f"{name}: nothing of it applied"
            assert c.config is running and set(c.player.playlist.creatives) == creatives, name
            assert on_screen(c) in PLAYLIST, f"{name}: the same creatives keep playing"
            assert status["broker"] == "connected" and c.telemetry.alive(), f"{name}: the running link stays"
            wait_for(lambda published=published: len(subscriber.on("lab/faults/status")) > published,
                     f"{name}: status still published under the old name")
            assert subscriber.on("lab/faults/status")[-1].json()["last_error"].startswith("config reload rejected")
        make_config(tmp_path, broker.url, device="renamed")
        c.reload()
        wait_for(lambda: c.status()["device"] == "renamed", "the good configuration applies")
        assert c.status()["last_error"] is None, "the rejection is history once a reload succeeds"
        subscriber.wait_for(lambda m: m.topic == "signage/lab/renamed/available" and m.payload == b"online")
        wait_for(lambda: on_screen(c) in PLAYLIST, "still playing")
        assert set(c.player.playlist.creatives) == creatives

    try:
        run_with(controller, script)
    finally:
        subscriber.close()


def test_a_display_that_will_not_open_brings_the_old_window_back(controller_for, broker, tmp_path, monkeypatch):
    """The window is the one part that cannot be built beside the running one: when the
    new display settings fail to open (here: a DisplayError for the new size, as a panel
    that is not there gives), the old window comes back and nothing else changes."""
    refuse_display_size(monkeypatch, (400, 200))
    controller = controller_for()
    config_file = tmp_path / "config.yaml"

    def script(c):
        wait_for(lambda: on_screen(c) in PLAYLIST and c.status()["broker"] == "connected", "playing, connected")
        running = c.config
        make_config(tmp_path, broker.url, device="renamed",
                    display="{fullscreen: false, size: [400, 200], notice: {enabled: true}}")
        c.reload()
        status = wait_for(lambda: (lambda s: s if "(display)" in (s["last_error"] or "") else None)(c.status()),
                          "rejected, naming the display key")
        assert re.match(rf"config reload rejected: {re.escape(str(config_file))}:\d+:\d+ \(display\):",
                        status["last_error"])
        assert c.config is running and status["device"] == "faults"
        assert c.renderer.screen.size == (320, 180), "the old window is back"
        ticks = c.renderer.stats.ticks
        wait_for(lambda: c.renderer.stats.ticks > ticks + 5 and on_screen(c) in PLAYLIST, "drawing again")
        make_config(tmp_path, broker.url, device="renamed")
        c.reload()
        wait_for(lambda: c.status()["device"] == "renamed" and c.status()["last_error"] is None, "a good one applies")

    run_with(controller, script)
