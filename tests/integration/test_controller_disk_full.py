"""`signage run` with its spool on a 256 KiB disk that fills up while the broker is
stalled (acknowledgements in flight): nothing is lost, and SIGTERM with the disk still
full is a clean exit whose final status tells the truth."""

from __future__ import annotations

import json
import signal

from tests.disks import fill
from tests.subscriber import Subscriber
from tests.support.controller import start_controller
from tests.support.waiting import wait_for


def test_disk_full_with_acks_in_flight_then_sigterm(tmp_path, broker, samples, models_dir, small_disk):
    subscriber = Subscriber(broker.url, "signage/lab/sd/#", client_id="fleet-sd", persistent=True)
    process = start_controller(tmp_path, broker.url, samples, models_dir, spool=small_disk / "spool.sqlite3",
                               extra_config="mqtt: {interval: 1, keepalive: 5}\n")
    try:
        subscriber.wait_for(lambda m: m.topic.endswith("/metrics"), timeout=60)
        broker.process.send_signal(signal.SIGSTOP)  # the broker stops answering: acks in flight
        fill(small_disk)
        broker.process.send_signal(signal.SIGCONT)
        subscriber.wait_for(lambda m: m.topic.endswith("/status") and json.loads(m.payload)["spool"] == "disk full",
                            timeout=60)
        count = len(subscriber.on("/metrics"))
        wait_for(lambda: len(subscriber.on("/metrics")) >= count + 3, "three more metrics: still flowing", timeout=60)
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
