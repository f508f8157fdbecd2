"""An unexpected exception in the playlist watcher reaches status as last_error, the
watcher thread survives it, and the error clears once the watcher answers again."""

from __future__ import annotations

from signage.playlist import watcher as watcher_module
from tests.kiosk import run_with
from tests.support.waiting import wait_for


def test_a_watcher_fault_is_reported_and_recovered(controller_for, monkeypatch):
    real = watcher_module.load_playlist_set
    broken = {"on": False}

    def flaky(*args, **kwargs):
        if broken["on"]:
            raise RuntimeError("injected fault")
        return real(*args, **kwargs)

    monkeypatch.setattr(watcher_module, "load_playlist_set", flaky)

    def script(c):
        broken["on"] = True
        c.reload()  # as MQTT RELOAD / SIGHUP: a request the watcher thread services
        wait_for(lambda: c.status()["last_error"] == "playlist watcher: RuntimeError: injected fault",
                 "fault in status")
        assert c.watcher.alive() and c.stuck(60) is None
        broken["on"] = False
        c.reload()
        wait_for(lambda: c.status()["last_error"] is None, "fault cleared")
        assert c.status()["playlist"] == "ok"

    run_with(controller_for(), script)
