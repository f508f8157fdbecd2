"""`signage run` with its spool on a 256 KiB disk that fills up while the broker is
stalled (acknowledgements in flight): nothing is lost, and SIGTERM with the disk still
full is a clean exit whose final status tells the truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from signage.modelfiles import PROJECT_ROOT
from tests.integration.test_telemetry_faults import fill
from tests.integration.test_telemetry_mqtt import wait
from tests.subscriber import Subscriber


def start_controller(folder, spool, broker_url, samples, models_dir) -> subprocess.Popen:
    config = folder / "config.yaml"
    config.write_text(f"site: lab\ndevice: sd\nplaylists: {PROJECT_ROOT / 'tests' / 'playlists' / 'e2e'}\n"
                      f"paths: {{spool: {spool}}}\ndisplay: {{fullscreen: false, size: [320, 180]}}\n"
                      f"mqtt: {{url: '{broker_url}', interval: 1, keepalive: 5}}\n")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SIGNAGE_MODELS_DIR=str(models_dir))
    return subprocess.Popen([sys.executable, "-m", "signage.cli", "run", "--config", str(config),
                             "--source", str(samples / "WolfgangLanger_Pexels.mp4")],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_disk_full_with_acks_in_flight_then_sigterm(tmp_path, broker, samples, models_dir, small_disk):
    subscriber = Subscriber(broker.url, "signage/lab/sd/#", client_id="fleet-sd", persistent=True)
    process = start_controller(tmp_path, small_disk / "spool.sqlite3", broker.url, samples, models_dir)
    try:
        subscriber.wait_for(lambda m: m.topic.endswith("/metrics"), timeout=60)
        broker.process.send_signal(signal.SIGSTOP)  # the broker stops answering: acks in flight
        fill(small_disk)
        broker.process.send_signal(signal.SIGCONT)
        subscriber.wait_for(lambda m: m.topic.endswith("/status") and json.loads(m.payload)["spool"] == "disk full",
                            timeout=60)
        count = len(subscriber.on("/metrics"))
        wait(lambda: len(subscriber.on("/metrics")) >= count + 3, timeout=60)  # still flowing
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            broker.process.send_signal(signal.SIGCONT)
    assert process.returncode == 0, output
    assert "Traceback" not in output and "are lost" not in output, output
    final = subscriber.wait_for(lambda m: m.topic.endswith("/status") and json.loads(m.payload)["broker"] == "stopped")
    assert json.loads(final.payload)["spool_held"] == 0
    subscriber.wait_for(lambda m: m.topic.endswith("/available") and m.payload == b"stopped")
    metrics = {}
    for message in subscriber.on("/metrics"):
        body = json.loads(message.payload)
        metrics[body["id"]] = body
    windows = sorted((m["start"], m["end"]) for m in metrics.values())
    gaps = [(a, b) for (_, a), (b, _) in zip(windows, windows[1:]) if a != b]
    assert not gaps, f"every metrics interval arrived, back to back: missing between {gaps[:3]}"
    subscriber.close()
