"""A device process for the tests: connects, publishes status, optionally spools N
messages, then waits to be stopped (or killed). Usage:
    python -m tests.telemetry_process URL SPOOL [COUNT]"""

import logging
import signal
import sys
import threading
import time

from signage.config import MqttConfig
from signage.telemetry.mqtt import Telemetry


def main() -> int:
    url, spool_path = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    telemetry = Telemetry(MqttConfig(url=url, keepalive=5), "lab", "kiosk-1", spool_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    telemetry.start()
    telemetry.set_status({"device": "kiosk-1", "state": "running"})
    for i in range(count):
        telemetry.send("metrics", {"seq": i, "id": f"m-{i}"})
    deadline = time.monotonic() + 10
    while not telemetry.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    print("connected" if telemetry.connected else "not connected", flush=True)
    stop.wait()
    telemetry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
