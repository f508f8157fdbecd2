"""Fault injection, end to end: each fault keeps the process up and something on
screen, status says what is wrong, and everything recovers once the fault is gone."""

from __future__ import annotations

import os
import shutil
import threading
import time

from tests.kiosk import DEFAULT_LOOP, on_screen, run_with
from tests.support.waiting import wait_for


def test_camera_unplugged_and_plugged_back(controller_for, samples, tmp_path):
    camera = tmp_path / "camera.mp4"  # OpenCV opens a file like a device: renaming it unplugs it
    shutil.copy(samples / "WolfgangLanger_Pexels.mp4", camera)
    controller = controller_for(source=f"{{kind: camera, device: '{camera}'}}")

    def script(c):
        wait_for(lambda: c.status()["camera"] == "ok", "camera ok")
        camera.rename(tmp_path / "unplugged.mp4")
        wait_for(lambda: c.status()["camera"] in ("retrying", "gone") and c.vision.worker.source._capture is None,
                 "camera reported missing")
        time.sleep(1.5)
        assert c.status()["camera"] in ("retrying", "gone")
        on_screen(c)
        (tmp_path / "unplugged.mp4").rename(camera)
        wait_for(lambda: c.status()["camera"] == "ok", "camera back", timeout=40)

    run_with(controller, script)


def test_corrupt_model_falls_back_to_the_default_loop(controller_for, models_dir, tmp_path):
    broken = tmp_path / "models"
    shutil.copytree(models_dir, broken)
    model = broken / "face_detection_full_range.tflite"
    good = model.read_bytes()
    model.write_bytes(good[:1000] + b"corrupted" + good[1009:])
    controller = controller_for(paths=f"{{spool: {tmp_path / 'spool.sqlite3'}, models: {broken}}}")

    def script(c):
        status = c.status()
        assert status["camera"] == "error" and "corrupt" in status["last_error"]
        assert "signage models fetch" in status["last_error"]
        assert on_screen(c) in DEFAULT_LOOP
        model.write_bytes(good)  # the operator fetches the model again...
        c.reload()  # ... and reloads (SIGHUP)
        wait_for(lambda: c.status()["camera"] == "ok", "vision back")
        assert c.status()["last_error"] is None

    run_with(controller, script)


def test_a_broken_playlist_mid_run_keeps_the_last_good(controller_for, tmp_path):
    controller = controller_for()
    playlist = tmp_path / "playlists" / "e2e.yaml"
    good = playlist.read_text()

    def script(c):
        playlist.write_text(good.replace("duration: 3", "duration: soon", 1))
        wait_for(lambda: c.status()["playlist"].startswith("rejected"), "rejection in status")
        assert "creatives[0].duration: expected a number, got 'soon'" in c.status()["playlist"]
        assert on_screen(c) in DEFAULT_LOOP | {"look"}, "the last good playlist (the video's person may look)"
        playlist.write_text(good.replace("#333333", "#335533"))
        wait_for(lambda: c.status()["playlist"] == "ok", "playlist ok again")

    run_with(controller, script)


def test_broker_down_spools_and_drains(controller_for, broker):
    controller = controller_for()

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected", "connected")
        broker.stop()
        wait_for(lambda: c.status()["broker"] != "connected", "disconnect noticed")
        wait_for(lambda: c.telemetry.spool.depth >= 3, "metrics spooled while the broker is down")
        on_screen(c)
        broker.start()
        wait_for(lambda: c.status()["broker"] == "connected", "reconnected", timeout=90)
        wait_for(lambda: c.telemetry.spool.depth == 0, "spool drained")

    run_with(controller, script)


def test_disk_full_for_the_spool(controller_for, small_disk, tmp_path):
    controller = controller_for(paths=f"{{spool: {small_disk / 'spool.sqlite3'}}}")
    filler = small_disk / "filler"

    def script(c):
        wait_for(lambda: c.telemetry.spool.depth == 0 and c.status()["broker"] == "connected", "connected")
        descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)  # something else fills the disk
        try:
            while True:
                os.write(descriptor, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(descriptor)
        wait_for(lambda: (c.status()["last_error"] or "").startswith("spool: disk full"), "disk full in status")
        assert c.status()["spool"] == "disk full"
        on_screen(c)
        filler.unlink()  # space again
        wait_for(lambda: c.status()["spool"] == "ok" and c.status()["spool_held"] == 0
                 and c.status()["last_error"] is None, "spool writable again")

    run_with(controller, script)


def test_display_lost_and_back(controller_for, monkeypatch):
    from signage.display import renderer as module

    controller = controller_for()
    real_get, lost = module.pygame.event.get, threading.Event()

    def get(*args, **kwargs):  # every turn of the loop pumps events, drawing or not
        if lost.is_set():
            lost.clear()
            raise module.pygame.error("the display went away (test)")
        return real_get(*args, **kwargs)

    monkeypatch.setattr(module.pygame.event, "get", get)

    def script(c):
        lost.set()
        wait_for(lambda: c.status()["display"] == "lost", "display lost in status")
        wait_for(lambda: c.status()["display"] == "ok" and c.renderer.stats.ticks > 0, "display back")
        on_screen(c)

    run_with(controller, script)
