"""What a reload or a privacy switch must never do, against a real kiosk (X server,
broker, vision on the sample video): analyse a frame once privacy is asked for, leave a
part half-swapped when one step of the swap fails, lose counts because the telemetry
link could not be made at boot, forget faults when a part is replaced, or leave the
models of a stopped pipeline to the garbage collector."""

from __future__ import annotations

import shutil
import threading

import pytest

from signage.kiosk import uplink
from signage.kiosk.app import Kiosk, Observer
from signage.vision.pipeline import Pipeline
from signage.vision.worker import VisionWorker
from tests.kiosk import DEFAULT_LOOP, E2E, make_config, on_screen, refuse_display_size, run_with
from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

PLAYLIST = DEFAULT_LOOP | {"look"}
SECRET = "do-not-quote-4711"


class Snapshots(Observer):
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def snapshot(self, snapshot) -> None:
        with self.lock:
            self.count += 1


def kiosk(tmp_path, broker_url, observer=None, **overrides) -> Kiosk:
    config, path = make_config(tmp_path, broker_url, **overrides)
    return Kiosk(config, config_path=path, observer=observer)


def counting(monkeypatch, cls, name):
    """Wrap cls.name so that each call is counted (the real method still runs)."""
    calls = []
    real = getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


def ticks_later(c, n=20):
    ticks = c.renderer.stats.ticks
    wait_for(lambda: c.renderer.stats.ticks > ticks + n, f"{n} more frames drawn")


# ----- D7: a reload that turns privacy on ----------------------------------------------------

def test_a_reload_that_turns_privacy_on_analyses_no_frame_after_it(xvfb, broker, tmp_path, models_dir, samples,
                                                                    monkeypatch):
    """The same reload also changes the vision settings: the camera must not be started
    again for the moment until privacy takes over."""
    observer = Snapshots()
    workers = counting(monkeypatch, VisionWorker, "start")
    controller = kiosk(tmp_path, broker.url, observer)

    def script(c):
        wait_for(lambda: observer.count > 3 and c.status()["camera"] == "ok", "frames analysed")
        started = len(workers)
        make_config(tmp_path, broker.url, vision="{max_fps: 5}", privacy="{start_in_privacy: true}")
        c.reload()
        wait_for(lambda: c.status()["privacy"] and c.config.privacy.start_in_privacy, "privacy on by the reload")
        seen = observer.count
        ticks_later(c)
        assert len(workers) == started, "no vision worker started by a reload that turns privacy on"
        assert observer.count == seen, "no frame analysed once privacy is on"
        assert c.status()["camera"] == "off" and not c.vision.running

    run_with(controller, script)


# ----- a commit step that fails -----------------------------------------------------------------

def test_a_fault_in_one_commit_step_costs_that_step_only(xvfb, broker, tmp_path, models_dir, samples, monkeypatch):
    """Members: the last-good copy of the new playlists fails (after the old watcher was
    stopped, before the new one ran), and adopting the new playlists fails. Each time the
    rest of the reload still applies, the new watcher runs (no dead thread for the
    watchdog), status names the step, and the kiosk keeps drawing."""
    from signage.kiosk import playlists

    def injected(*args):
        raise RuntimeError("injected fault")

    controller = kiosk(tmp_path, broker.url)

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected" and on_screen(c) in PLAYLIST, "playing, connected")
        for number, (step, name) in enumerate([("reload: last good playlist", "keep_last_good"),
                                               ("reload: playlists", "adopt")]):
            folder = tmp_path / f"playlists-{number}"
            shutil.copytree(E2E, folder)
            with monkeypatch.context() as patch:
                patch.setattr(playlists, name, injected)
                make_config(tmp_path, broker.url, device=f"renamed-{number}", playlists=str(folder))
                c.reload()
                status = wait_for(lambda number=number: (
                                      lambda s: s if s["device"] == f"renamed-{number}" else None)(c.status()),
                                  f"{name}: the rest of the reload applies")
                assert c.watcher.alive() and c.watcher.paths == [folder], f"{name}: the new watcher runs"
                assert c.stuck(3600) is None, f"{name}: no thread reads as dead to the watchdog"
                assert any(p.startswith(f"{step}: RuntimeError") for p in status["problems"]), status["problems"]
                ticks_later(c)
                assert on_screen(c) in PLAYLIST

    run_with(controller, script)


def test_a_source_that_raises_its_own_error_leaves_vision_off_and_reported(xvfb, broker, tmp_path, models_dir,
                                                                            samples, monkeypatch):
    """A driver's own exception (cv2.error, RuntimeError) when vision starts again after
    privacy: vision is off and says why, the prepared pipeline is closed, no fault escapes."""
    from signage.kiosk.vision import open_configured_source

    broken = threading.Event()

    def open_source(config):
        if broken.is_set():
            raise RuntimeError("VIDIOC_STREAMON: No such device")
        return open_configured_source(config)

    closed = counting(monkeypatch, Pipeline, "close")
    config, path = make_config(tmp_path, broker.url)
    controller = Kiosk(config, config_path=path, open_source=open_source)

    def script(c):
        wait_for(lambda: c.status()["camera"] == "ok", "vision running")
        c.privacy.remote_on = True
        wait_for(lambda: c.status()["camera"] == "off", "privacy on")
        before = len(closed)
        broken.set()
        c.privacy.remote_on = False
        status = wait_for(lambda: (lambda s: s if s["camera"] == "error" else None)(c.status()), "vision off, said")
        assert any("cannot be opened (RuntimeError)" in p for p in status["problems"]), status["problems"]
        assert not any(p.startswith("privacy schedule") for p in status["problems"]), "no fault escaped"
        assert len(closed) > before, "the pipeline made for it is closed"
        ticks_later(c)

    run_with(controller, script)


# ----- the pipeline's models, and faults since start -------------------------------------------

def test_privacy_closes_the_pipeline_and_faults_never_go_down(xvfb, broker, tmp_path, models_dir, samples,
                                                               monkeypatch):
    real_process = Pipeline.process
    failures = iter(range(3))

    def process_failing_thrice(pipeline, image, t):
        if next(failures, None) is not None:
            raise RuntimeError("injected inference fault")
        return real_process(pipeline, image, t)

    monkeypatch.setattr(Pipeline, "process", process_failing_thrice)
    closed = counting(monkeypatch, Pipeline, "close")
    controller = kiosk(tmp_path, broker.url)

    def script(c):
        wait_for(lambda: c.status()["faults"] >= 3, "the injected faults counted")
        running = c.vision.worker.pipeline
        c.privacy.remote_on = True
        wait_for(lambda: c.status()["camera"] == "off", "privacy on")
        assert c.status()["faults"] >= 3, "faults since start survive the worker, while it stops too"
        # The camera reads "off" as soon as privacy is on; the worker's models are released as it ends.
        wait_for(lambda: running in closed, "the stopped worker's pipeline closed (its models released)")
        assert c.status()["faults"] >= 3, "faults since start survive the worker"
        c.privacy.remote_on = False
        wait_for(lambda: c.status()["camera"] == "ok", "vision again")
        make_config(tmp_path, broker.url, vision="{max_fps: 5}")
        c.reload()
        wait_for(lambda: c.config.vision.max_fps == 5, "a vision reload")
        assert c.status()["faults"] >= 3, "faults since start survive a vision reload"

    run_with(controller, script)


# ----- D6: telemetry that cannot start at boot --------------------------------------------------

@pytest.mark.parametrize("how", ["retried by itself", "SIGHUP"])
def test_telemetry_that_cannot_start_at_boot_keeps_the_counts_and_starts_once_the_file_is_fixed(
        how, xvfb, tls_broker, tmp_path, models_dir, samples, monkeypatch):
    """The CA file at boot is not a certificate (and holds a secret-looking line): the
    kiosk plays, status says why the link is not started without quoting the file, the
    metrics of each interval are held; once the real CA is at the same path (no config
    change), the link is made (by its own retry, or by SIGHUP) and every held message
    reaches the broker."""
    tls, real_ca = tls_broker()
    monkeypatch.setattr(uplink, "RETRY_S", 0.5 if how == "retried by itself" else 3600.0)
    ca = tmp_path / "ca.pem"
    ca.write_text(f"-----BEGIN CERTIFICATE-----\n{SECRET}\n-----END CERTIFICATE-----\n")
    subscriber = Subscriber(tls.url, "signage/#", ca_certs=str(real_ca))
    controller = kiosk(tmp_path, tls.url, mqtt=f"{{url: '{tls.url}', interval: 1, keepalive: 5, tls: {{ca: '{ca}'}}}}")

    def script(c):
        status = wait_for(lambda: (lambda s: s if s["spool_held"] >= 2 else None)(c.status()),
                          "two intervals of metrics held")
        assert status["broker"].startswith("not started: mqtt"), status["broker"]
        assert SECRET not in str(status) and str(ca) not in str(status), "nothing of the file, nor its path"
        assert on_screen(c) in PLAYLIST
        held = c.telemetry.held.copy()
        shutil.copy(real_ca, ca)
        if how == "SIGHUP":
            ticks_later(c)
            assert c.status()["broker"].startswith("not started"), "no retry by itself within the hour"
            c.reload()
        wait_for(lambda: c.status()["broker"] == "connected", "the link made and connected")
        sent = [payload for kind, payload in held if kind == "metrics"]
        assert sent
        subscriber.wait_for(lambda m: m.topic == "signage/lab/faults/metrics"
                            and m.json().get("id") == sent[-1]["id"])
        assert c.status()["spool_dropped"] == 0

    try:
        run_with(controller, script)
    finally:
        subscriber.close()


# ----- a rejected reload leaves nothing behind ------------------------------------------------

def test_a_rejected_reload_creates_no_folder(xvfb, broker, tmp_path, models_dir, samples):
    """The new spool and state folders are checked by creating them; when another part
    of the same configuration is refused, they are taken away again."""
    controller = kiosk(tmp_path, broker.url)
    new = tmp_path / "new-state"

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected", "connected")
        make_config(tmp_path, broker.url, paths=f"{{spool: {new / 'deep' / 'spool.sqlite3'}, state: {new / 'state'}}}",
                    playlists=str(tmp_path / "no-such-folder"))
        c.reload()
        wait_for(lambda: "(playlists)" in (c.status()["last_error"] or ""), "rejected for its playlists")
        assert not new.exists(), "the folders made to check the new paths are gone"
        assert c.config.paths.spool == str(tmp_path / "spool.sqlite3")

    run_with(controller, script)


def test_a_new_link_that_does_not_start_leaves_an_unstarted_link_not_a_stopped_one(xvfb, broker, tmp_path,
                                                                                   models_dir, samples, monkeypatch):
    """The old link is stopped, the new one's start raises: the counts are held (not sent
    to a stopped link), status says why, and the link is retried until it starts."""
    from signage.telemetry.mqtt import Telemetry

    failing = threading.Event()
    real_start = Telemetry.start

    def start(link):
        if failing.is_set():
            raise OSError("injected: cannot start the network thread")
        real_start(link)

    monkeypatch.setattr(Telemetry, "start", start)
    monkeypatch.setattr(uplink, "RETRY_S", 0.2)
    subscriber = Subscriber(broker.url, "signage/#")
    controller = kiosk(tmp_path, broker.url)

    def script(c):
        wait_for(lambda: c.status()["broker"] == "connected", "connected")
        failing.set()
        make_config(tmp_path, broker.url, device="renamed")
        c.reload()
        status = wait_for(lambda: (lambda s: s if s["device"] == "renamed" and s["spool_held"] >= 1 else None)(
            c.status()), "the new name, metrics held")
        assert status["broker"].startswith("not started: mqtt"), status["broker"]
        held = [m for kind, m in c.telemetry.held if kind == "metrics"]
        ticks_later(c)
        failing.clear()
        wait_for(lambda: c.status()["broker"] == "connected", "retried and connected")
        subscriber.wait_for(lambda m: m.topic == "signage/lab/renamed/metrics" and m.json()["id"] == held[0]["id"])

    try:
        run_with(controller, script)
    finally:
        subscriber.close()


def test_a_fault_while_the_old_window_comes_back_still_releases_the_staged_parts(xvfb, broker, tmp_path, models_dir,
                                                                                 samples, monkeypatch):
    """The new window does not open, and putting the old picture back fails too: the
    pipeline staged for the same reload is closed all the same, and the kiosk draws on."""
    refuse_display_size(monkeypatch, (400, 200))
    built = counting(monkeypatch, Pipeline, "from_config")  # (counted by the vision settings it is given)
    closed = counting(monkeypatch, Pipeline, "close")
    restoring = threading.Event()
    controller = kiosk(tmp_path, broker.url)
    real_show = controller.screen.show

    def show(creative):
        if restoring.is_set():
            restoring.clear()
            raise RuntimeError("injected: the old picture cannot be shown")
        real_show(creative)

    controller.screen.show = show

    def script(c):
        wait_for(lambda: on_screen(c) in PLAYLIST and c.status()["camera"] == "ok", "playing, vision running")
        before = len(built)
        make_config(tmp_path, broker.url, vision="{max_fps: 5}",
                    display="{fullscreen: false, size: [400, 200], notice: {enabled: true}}")
        restoring.set()
        c.reload()
        wait_for(lambda: not restoring.is_set() and not c.reload_requested.is_set(), "the reload tried")
        ticks_later(c)
        assert c.config.vision.max_fps == 10, "nothing of it applied"
        staged = [p for p in closed if p not in (c.vision.worker.pipeline,)]
        assert len(built) > before and staged, "the pipeline staged for it was closed"
        wait_for(lambda: on_screen(c) in PLAYLIST, "drawing again")

    run_with(controller, script)
