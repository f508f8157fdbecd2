import io
import json
import threading

from signage.config import MqttConfig
from signage.fleet.monitor import Fleet, monitor
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import Spool


def test_monitor_shows_the_fleet(broker, tmp_path):
    device = Telemetry(MqttConfig(url=broker.url), "lab", "kiosk-1", Spool(tmp_path / "s.sqlite3"))
    device.start()
    device.set_status({"playing": "welcome", "spool_depth": 0, "last_error": None,
                       "content": {"state": "downloading", "version": 3, "target": "fleet", "next_version": 4,
                                   "done_bytes": 50, "total_bytes": 200, "reason": None}})
    out, raw = io.StringIO(), io.StringIO()
    listening = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=monitor, args=(broker.url, None, "signage", False, 2.5, out),
                                kwargs={"listening": listening[0]}),
               threading.Thread(target=monitor, args=(broker.url, "lab", "signage", True, 2.5, raw),
                                kwargs={"listening": listening[1]})]
    for thread in threads:
        thread.start()
    assert all(event.wait(10) for event in listening), "metrics are not retained: the monitors must be listening"
    device.send("metrics", {"id": "m1", "viewers": 4})
    for thread in threads:
        thread.join(timeout=10)
    device.stop()
    table = out.getvalue().split("site")[-1]
    row = next(line for line in table.splitlines() if line.startswith("lab"))
    assert row.split()[:4] == ["lab", "kiosk-1", "online", "welcome"]
    assert "v3 (fleet) · v4 downloading 25%" in row and row.split()[-2:] == ["4", "0"], row
    lines = [json.loads(line) for line in raw.getvalue().splitlines()]
    topics = {line["topic"] for line in lines}
    assert {"signage/lab/kiosk-1/status", "signage/lab/kiosk-1/available"} <= topics
    assert any(line["topic"].endswith("/metrics") and line["payload"]["viewers"] == 4 for line in lines)


import pytest  # noqa: E402


@pytest.mark.parametrize("url,code,message", [
    ("ftp://x", 2, "--broker 'ftp://x': the scheme 'ftp://' is not a broker's; use mqtt://host:port or "
                   "mqtts://host:port"),
    ("mqtt://127.0.0.1:70000", 2, "the port '70000' is not a number from 1 to 65535"),
    ("not a url", 2, "'not a url' is not a host name or IP address"),
])
def test_monitor_with_a_bad_broker_url_says_so(url, code, message):
    out, err = io.StringIO(), io.StringIO()
    assert monitor(url, None, "signage", False, 1.0, out=out, err=err) == code
    assert message in err.getvalue() and out.getvalue() == ""


def test_monitor_with_an_unreachable_broker_fails_clearly():
    from tests.broker import free_port

    port = free_port()  # nothing listens there
    out, err = io.StringIO(), io.StringIO()
    assert monitor(f"mqtt://127.0.0.1:{port}", None, "signage", False, 5.0, out=out, err=err,
                   connect_timeout=1.0) == 1
    assert f"the broker at 127.0.0.1:{port} cannot be reached" in err.getvalue()
    assert out.getvalue() == "", "no empty tables"


def test_monitor_cli_exit_codes_without_traceback():
    import subprocess
    import sys

    from signage.modelfiles import PROJECT_ROOT

    result = subprocess.run([sys.executable, "-m", "signage.cli", "monitor", "--broker", "ftp://x", "--duration", "1"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "ftp://x" in result.stderr


@pytest.mark.parametrize("content", [
    "not an object", 7, ["a list"], {"state": "downloading", "next_version": 4, "done_bytes": "many",
                                     "total_bytes": 0}, {"state": "hijacked", "version": 1},
    {"state": "active", "version": 3, "extra": "field"}, {"state": "active", "version": -1},
])
def test_monitor_shows_a_content_that_is_not_a_rollout_as_none(content):
    """A status is read as it comes from the broker: a content the wire contract does not
    allow shows as "-", never a traceback in the monitor's MQTT thread."""
    fleet = Fleet("signage")
    fleet.update("signage/lab/k/status", json.dumps({"playing": "welcome", "content": content}).encode())
    row = fleet.table().splitlines()[-1]
    assert row.split()[:5] == ["lab", "k", "?", "welcome", "-"], row
