"""The kiosk itself on arm64: `signage check` accepts what we ship; a kiosk on the sample
video (SDL's dummy driver) publishes to a Mosquitto on the host and stops cleanly on SIGTERM;
its spool keeps every durable message across a kill -9 while the broker is away."""

from __future__ import annotations

import json
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

from signage.modelfiles import PROJECT_ROOT
from signage.wire.messages import Metrics, Play, Status
from tests.arm64.pi import on_x86
from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

TOPICS = "signage/lab/arm64"
SCHEMAS = {"status": Status, "metrics": Metrics, "play": Play}
STARTS = 120  # seconds a kiosk may take to start under emulation
SPOOLED = 5  # metrics written to the spool before the kill


def test_check_accepts_the_shipped_config_and_playlists(pi):
    arm64 = pi.run("-m", "signage.cli", "check")
    x86 = on_x86("-m", "signage.cli", "check")
    assert arm64.returncode == 0, arm64.stdout + arm64.stderr
    assert arm64.stdout == x86.stdout and arm64.stdout.startswith("ok: config.yaml")


def write_config(folder: Path, broker_url: str, samples: Path) -> Path:
    """The demo's configuration (config.yaml) with this test's broker, spool and a small
    window; min_group 1 so that the counts the vision makes are published, not withheld."""
    lines = ["site: lab", "device: arm64",
             f"source: {{kind: video, path: {samples / 'WolfgangLanger_Pexels.mp4'}, loop: true}}",
             f"playlists: {PROJECT_ROOT / 'playlists'}",
             "display: {fullscreen: false, size: [640, 360]}",
             f"mqtt: {{url: '{broker_url}', interval: 1, keepalive: 5}}",
             "privacy: {min_group: 1}",
             f"paths: {{spool: {folder / 'spool.sqlite3'}}}"]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_kiosk(pi, config: Path, log: Path):
    return pi.start("-m", "signage.cli", "run", "--config", str(config), log=log, SDL_VIDEODRIVER="dummy")


def stop(process, log: Path) -> None:
    """SIGTERM, as systemd stops it: an orderly stop, exit status 0."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=STARTS) == 0, log.read_text()[-3000:]


def test_kiosk_runs_on_the_sample_video_publishes_and_stops_cleanly(pi, broker, tmp_path, models_dir, samples):
    subscriber = Subscriber(broker.url, f"{TOPICS}/#")
    log = tmp_path / "kiosk.log"
    kiosk = start_kiosk(pi, write_config(tmp_path, broker.url, samples), log)
    try:
        subscriber.wait_for(lambda m: m.topic.endswith("/available") and m.payload == b"online", timeout=STARTS)
        # About 20 s of running: a metrics message a second, and the face in the video seen.
        wait_for(lambda: len(subscriber.on("/metrics")) >= 20, "20 metrics messages", timeout=STARTS)
        stop(kiosk, log)
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
    subscriber.wait_for(lambda m: m.topic.endswith("/available") and m.payload == b"stopped")
    subscriber.close()
    for message in subscriber.messages:
        kind = message.topic.rsplit("/", 1)[-1]
        if kind in SCHEMAS:
            SCHEMAS[kind].model_validate(message.json())
    metrics = [m.json() for m in subscriber.on("/metrics")]
    assert sum(m["frames"] or 0 for m in metrics) > 0, "the vision analysed frames (published with the passers)"
    assert max(m["peak_faces"] or 0 for m in metrics) >= 1, "and saw the face in the video"
    assert subscriber.on("/play") and subscriber.on("/status")
    assert "Traceback" not in log.read_text()


def read_spool(spool: Path, query: str) -> list[tuple]:
    """Rows of a kiosk's spool, read-only, from the host (SQLite's file format is the same)."""
    with closing(sqlite3.connect(f"file:{spool}?mode=ro", uri=True)) as db:
        return db.execute(query).fetchall()


def message_id(payload: bytes) -> str | None:
    """The id of a message that has one (metrics, play); None for the others."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None  # availability: plain text
    return document.get("id") if isinstance(document, dict) else None


def spooled_metrics(spool: Path) -> int:
    try:
        return read_spool(spool, "SELECT COUNT(*) FROM messages WHERE topic LIKE '%/metrics'")[0][0]
    except sqlite3.OperationalError:  # the kiosk has not created it yet
        return 0


def test_spool_keeps_its_messages_across_a_kill_9(pi, broker, tmp_path, models_dir, samples):
    subscriber = Subscriber(broker.url, f"{TOPICS}/#", client_id="fleet-arm64", persistent=True)
    subscriber.client.reconnect_delay_set(min_delay=1, max_delay=2)  # back soon after the broker
    broker.stop()  # the subscriber's session stays in the broker's persistence
    config = write_config(tmp_path, broker.url, samples)
    spool = tmp_path / "spool.sqlite3"
    first = start_kiosk(pi, config, tmp_path / "first.log")
    try:
        wait_for(lambda: spooled_metrics(spool) >= SPOOLED, f"{SPOOLED} metrics in the spool", timeout=STARTS)
        assert first.poll() is None, "the kiosk runs until it is killed"
    finally:
        first.kill()  # SIGKILL to qemu: the guest dies with it, no handler runs
        first.wait()
    durable = {message_id(payload) for (payload,) in read_spool(spool, "SELECT payload FROM messages")} - {None}
    assert len(durable) >= SPOOLED

    broker.start()
    log = tmp_path / "second.log"
    second = start_kiosk(pi, config, log)
    try:
        def received() -> set[str | None]:
            with subscriber.lock:
                return {message_id(m.payload) for m in subscriber.messages}

        wait_for(lambda: durable <= received(), "every spooled message delivered", timeout=STARTS)
        stop(second, log)
    finally:
        if second.poll() is None:
            second.kill()
        subscriber.close()
