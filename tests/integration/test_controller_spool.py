"""The real controller started on a damaged spool from the gallery (tests/hostile/spools.py):
it comes up, shows something, says `spool: recovered: ...` in status, and delivers
every message that was still readable, in order."""

from __future__ import annotations

import json

import pytest

from tests.hostile import spools
from tests.kiosk import on_screen, run_with
from tests.subscriber import Subscriber
from tests.support.telemetry import subscribed
from tests.support.waiting import wait_for


# (A folder where the spool file should be is refused by the config itself: paths.spool.)
@pytest.mark.parametrize("kind", ["garbage_middle", "truncated", "text_file"])
def test_the_controller_starts_on_a_damaged_spool(kind, controller_for, broker, tmp_path):
    written = spools.make(kind, tmp_path / "spool.sqlite3")  # where make_config puts the spool
    subscriber = Subscriber(broker.url, "signage/lab/kiosk-1/metrics", client_id=f"fleet-{kind}", persistent=True)
    subscribed(subscriber, broker.url)
    controller = controller_for()
    seen = {}

    def script(c):
        status = c.status()
        seen["status"] = status
        assert status["spool"].startswith("recovered: ") and "moved to" in status["spool"]
        assert status["last_error"] is None, "recovered is a state, not an error"
        on_screen(c)
        wait_for(lambda: c.status()["broker"] == "connected" and c.status()["spool_depth"] == 0, "spool drained")

    run_with(controller, script)
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1
    recovered = int(seen["status"]["spool"].split()[1])
    def received():
        return [i for i in dict.fromkeys(json.loads(m.payload)["id"] for m in subscriber.messages) if i != "probe"]

    wait_for(lambda: len(received()) >= recovered, "delivered")
    ids = received()
    subscriber.close()
    assert len(ids) == recovered and ids == [i for i in written if i in set(ids)], "readable rows, in order"
    if kind in ("garbage_middle", "truncated"):
        assert recovered >= len(written) * 0.45
