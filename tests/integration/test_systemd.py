"""systemd integration: the unit file, sd_notify on a real datagram socket, the
watchdog withheld when a thread hangs, and a clean exit on SIGTERM."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from signage.modelfiles import PROJECT_ROOT
from signage.kiosk.systemd import Notifier
from tests.subscriber import Subscriber
from tests.support.controller import start_controller

UNIT = PROJECT_ROOT / "systemd" / "signage.service"


def test_unit_file_passes_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (the CI script does)")
    executable = Path(sys.executable).parent / "signage"
    unit = tmp_path / "signage.service"
    unit.write_text(UNIT.read_text().replace("/opt/signage/.venv/bin/signage", str(executable)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = UNIT.read_text()
    for directive in ("Type=notify", "WatchdogSec=", "Restart=always", "StartLimitBurst=", "User=signage",
                      "SupplementaryGroups=video render", "ProtectSystem=strict", "ReadWritePaths=", "PrivateTmp=true",
                      "NoNewPrivileges=true", "ProtectHome=true", "DeviceAllow=char-video4linux",
                      "DeviceAllow=char-drm", "RestrictAddressFamilies=", "SDL_VIDEODRIVER=kmsdrm"):
        assert directive in text, directive


class NotifySocket:
    def __init__(self, path: Path):
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.received: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.received.append((time.monotonic(), self.socket.recv(4096).decode()))
            except TimeoutError:
                pass

    def drain_until(self, field: str, limit: float = 60.0) -> None:
        """Until a message with `field` arrives (`limit`: a guard against a hang, no timing claim)."""
        deadline = time.monotonic() + limit
        while not self.times(field) and time.monotonic() < deadline:
            self.drain(0.2)
        assert self.times(field), f"no {field} within {limit:g} s: {self.received}"

    def after(self, field: str) -> list[str]:
        """The messages that came after the first with `field`."""
        fields = [message.split("\n") for _, message in self.received]
        first = next(i for i, f in enumerate(fields) if field in f)
        return [message for _, message in self.received[first + 1:]]

    def times(self, field: str) -> list[float]:
        return [t for t, message in self.received if field in message.split("\n")]


def test_notifier_speaks_the_datagram_protocol(tmp_path, monkeypatch):
    listener = NotifySocket(tmp_path / "notify")
    notifier = Notifier(str(tmp_path / "notify"))
    assert notifier.ready("up") and notifier.watchdog() and notifier.stopping()
    listener.drain(0.3)
    assert [m for _, m in listener.received] == ["READY=1\nSTATUS=up", "WATCHDOG=1", "STOPPING=1"]
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert notifier.watchdog_interval() == 2.0
    assert not Notifier("").notify("READY=1"), "no socket, no error"


class HangingSource:
    """A real video source that hangs in `read()` once told to, as a stuck camera
    driver does (injected through the kiosk's source factory)."""

    def __init__(self, inner):
        self.inner, self.hang = inner, threading.Event()
        self.description = inner.description

    @property
    def state(self):
        return self.inner.state

    def read(self):
        if self.hang.is_set():
            threading.Event().wait(3600)  # never returns while the test runs (daemon thread)
        return self.inner.read()

    def close(self):
        self.inner.close()


def test_watchdog_stops_when_capture_hangs(tmp_path, broker, samples, models_dir, monkeypatch, caplog):
    from signage.config import load_config
    from signage.kiosk.app import Kiosk
    from signage.kiosk.vision import open_configured_source

    listener = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # pings every 0.5 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SIGNAGE_MODELS_DIR", str(models_dir))
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"site: lab\ndevice: sd\nplaylists: {PROJECT_ROOT / 'tests' / 'playlists' / 'e2e'}\n"
                           f"paths: {{spool: {tmp_path / 'spool.sqlite3'}}}\n"
                           f"source: {{kind: video, path: {samples / 'WolfgangLanger_Pexels.mp4'}}}\n"
                           f"mqtt: {{url: '{broker.url}'}}\n"
                           "display: {fullscreen: false, size: [320, 180]}\n")
    sources = []

    def open_source(config):
        sources.append(HangingSource(open_configured_source(config)))
        return sources[-1]

    kiosk = Kiosk(load_config(config_file), observer=None, open_source=open_source)
    marker = WithheldMarker(str(tmp_path / "notify"))
    logging.getLogger("signage.kiosk.watchdog").addHandler(marker)
    hung_at = []

    def script():
        listener.drain_until("WATCHDOG=1")
        hung_at.append(time.monotonic())
        sources[0].hang.set()
        listener.drain_until("MARK=withheld")
        listener.drain(2.0)  # four ping intervals, for a ping that should not come
        kiosk.stop()

    thread = threading.Thread(target=script, daemon=True)
    thread.start()
    try:
        with caplog.at_level("ERROR"):
            assert kiosk.run() == 0
    finally:
        logging.getLogger("signage.kiosk.watchdog").removeHandler(marker)
        marker.close()
    thread.join(timeout=10)
    listener.drain(0.5)
    ready = listener.times("READY=1")
    pings = listener.times("WATCHDOG=1")
    assert ready and pings
    assert any(t < hung_at[0] for t in pings), "pings while healthy"
    assert "WATCHDOG=1" not in listener.after("MARK=withheld"), "no WATCHDOG=1 once capture hung"
    assert "the capture thread made no progress" in caplog.text
    assert listener.times("STOPPING=1")


class WithheldMarker(logging.Handler):
    """Puts a marker into the notify socket's stream when the watchdog says it withholds:
    the datagrams before it and after it are in the order they were sent, so "no ping
    after it" needs no clock."""

    def __init__(self, path: str):
        super().__init__(logging.ERROR)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if "withholding the watchdog" in record.getMessage():
            self.socket.sendto(b"MARK=withheld", self.path)

    def close(self) -> None:
        self.socket.close()
        super().close()


def test_sigterm_stops_cleanly_without_waiting_out_a_timeout(tmp_path, broker, samples, models_dir):
    """Every step of the stop that can wait out a timeout says so when it does (a thread
    that did not stop, a pump that did not drain): none does, whatever the machine's
    speed, and the broker has the final word (`stopped`, the metrics flushed on the way out)."""
    subscriber = Subscriber(broker.url, "signage/lab/sd/#")
    process = start_controller(tmp_path, broker.url, samples, models_dir)
    try:
        subscriber.wait_for(lambda m: m.topic.endswith("/status") and m.json().get("camera") == "ok", timeout=60)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]  # a guard against a hang, no timing claim
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "did not stop within" not in output and "Traceback" not in output, output
    subscriber.wait_for(lambda m: m.topic.endswith("/available") and m.payload == b"stopped")
    subscriber.wait_for(lambda m: m.topic.endswith("/metrics"))  # flushed on the way out
    subscriber.close()


def test_privacy_command_releases_the_camera(tmp_path, broker, samples, models_dir):
    from tests.commands import fleet_key

    key = fleet_key(tmp_path)
    subscriber = Subscriber(broker.url, "signage/lab/sd/#")
    process = start_controller(tmp_path, broker.url, samples, models_dir,
                               extra_config=f"mqtt: {{commands: {{public_key: '{key.public_text}'}}}}\n")
    topic = "signage/lab/sd/privacy/set"
    try:
        subscriber.wait_for(lambda m: m.topic.endswith("/status") and m.json().get("camera") == "ok", timeout=30)
        subscriber.client.publish(topic, key.seal(topic, "ON"), qos=1)
        status = subscriber.wait_for(lambda m: m.topic.endswith("/status") and m.json()["privacy"], timeout=10)
        assert status.json()["camera"] == "off"
        assert subscriber.wait_for(lambda m: m.topic.endswith("/privacy/state")).payload == b"ON"
        subscriber.client.publish(topic, key.seal(topic, "OFF"), qos=1)
        subscriber.wait_for(lambda m: m.topic.endswith("/status") and not m.json()["privacy"]
                            and m.json()["camera"] == "ok", timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=15)[0]
    assert "privacy mode on: camera released" in output
    subscriber.close()
