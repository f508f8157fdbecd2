"""A reload (SIGHUP) that moves the spool and renames the device while the broker is away:
the old link's unsent rows are moved into the new spool and delivered by the new link
once the broker is back; nothing is logged as lost. A real kiosk (X server, broker,
vision on the sample video), as in test_config_reload.py."""

from __future__ import annotations

import json

from signage.telemetry.spool import Spool
from tests.kiosk import make_config, run_with
from tests.subscriber import Subscriber
from tests.support.telemetry import subscribed
from tests.support.waiting import wait_for


def test_a_reload_that_moves_the_spool_delivers_the_old_spool_rows(controller_for, broker, tmp_path, caplog):
    subscriber = Subscriber(broker.url, "signage/lab/+/metrics", client_id="fleet-handover", persistent=True)
    subscribed(subscriber, broker.url)
    broker.stop()
    controller = controller_for()
    old_path, new_path = tmp_path / "spool.sqlite3", tmp_path / "moved" / "spool.sqlite3"
    spooled: list[str] = []

    def script(c):
        wait_for(lambda: c.telemetry.spool is not None and c.telemetry.spool.depth >= 3, "metrics spooled")
        make_config(tmp_path, broker.url, device="renamed", paths=f"{{spool: {new_path}}}")
        c.reload()
        wait_for(lambda: c.status()["device"] == "renamed", "the new configuration applies")
        wait_for(lambda: c.telemetry.spool is not None and c.telemetry.spool.path == str(new_path), "the new spool")
        # the new link's pump copies the old rows in its next turn, not when it opens its spool
        wait_for(lambda: "unsent messages from the previous spool" in caplog.text, "the old rows copied")
        moved = Spool(old_path)  # the old link has stopped: its file is free
        try:
            assert moved.depth == 0, "every row moved out of the old spool"
        finally:
            moved.close()
        spooled.extend(json.loads(m.payload)["id"] for m in c.telemetry.spool.oldest(10_000)
                       if m.topic == "signage/lab/faults/metrics")
        assert len(spooled) >= 3, "the old link's rows are in the new spool"
        broker.start()
        wait_for(lambda: set(spooled) <= {m.json()["id"] for m in subscriber.on("/metrics")},
                 "the old spool's messages delivered", timeout=60)

    try:
        run_with(controller, script)
    finally:
        subscriber.close()
    assert "copied" in caplog.text and "unsent messages from the previous spool" in caplog.text
    assert "are lost" not in caplog.text
