import io
import json
import threading
import time

from signage.config import MqttConfig
from signage.telemetry.monitor import monitor
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import Spool


def test_monitor_shows_the_fleet(broker, tmp_path):
    device = Telemetry(MqttConfig(url=broker.url), "lab", "kiosk-1", Spool(tmp_path / "s.sqlite3"))
    device.start()
    device.set_status({"playing": "welcome", "spool_depth": 0, "last_error": None})
    out, raw = io.StringIO(), io.StringIO()
    threads = [threading.Thread(target=monitor, args=(broker.url, None, "signage", False, 2.5, out)),
               threading.Thread(target=monitor, args=(broker.url, "lab", "signage", True, 2.5, raw))]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # metrics are not retained: the monitors must be listening
    device.send("metrics", {"id": "m1", "viewers": 4})
    for thread in threads:
        thread.join(timeout=10)
    device.stop()
    table = out.getvalue().split("site")[-1]
    row = next(line for line in table.splitlines() if line.startswith("lab"))
    assert row.split()[:5] == ["lab", "kiosk-1", "online", "welcome", "4"]
    lines = [json.loads(line) for line in raw.getvalue().splitlines()]
    topics = {line["topic"] for line in lines}
    assert {"signage/lab/kiosk-1/status", "signage/lab/kiosk-1/available"} <= topics
    assert any(line["topic"].endswith("/metrics") and line["payload"]["viewers"] == 4 for line in lines)
