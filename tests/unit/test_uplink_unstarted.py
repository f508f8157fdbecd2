"""The link that could not be made: it holds what is sent (bounded, the overflow
counted in status), says why without quoting a file, and loses nothing at a stop: what
it holds goes into the real spool, for the next start to send."""

from __future__ import annotations

import json

from signage.config import Config, PathsConfig
from signage.kiosk import uplink
from signage.telemetry.spool import Spool
from signage.telemetry.spool.heldrows import HeldRows


def test_it_holds_the_newest_and_counts_the_rest(monkeypatch):
    monkeypatch.setattr(uplink, "HOLD_MAX", 3)
    link = uplink.Unstarted("mqtt.tls: the link cannot be made (ConfigError; the log says why)", "", 0.0)
    for number in range(5):
        link.send("metrics", {"n": number})
    health = link.health()
    assert [message["n"] for _, message in link.held] == [2, 3, 4]
    assert (health.held, health.spool_dropped) == (3, 2)
    assert health.broker.startswith("not started: mqtt.tls") and link.alive(60)


def test_the_reason_names_the_key_and_never_the_message():
    from signage.errors import ConfigError

    secret = "-----BEGIN CERTIFICATE-----\nsecret-4711"
    reason = uplink.reason_of(ConfigError(f"mqtt.tls: cannot load the certificate files (ca '/etc/x.pem'): {secret}"))
    assert reason.startswith("mqtt.tls: ") and "secret-4711" not in reason and "/etc/x.pem" not in reason


def test_a_stop_puts_what_it_holds_into_the_spool(tmp_path):
    config = Config(site="lab", device="d1", paths=PathsConfig(spool=str(tmp_path / "spool.sqlite3")))
    link = uplink.Unstarted("mqtt: the link cannot be made", "", 0.0, config)
    link.send("metrics", {"id": "m1"})
    link.send("play", {"id": "p1"})
    link.stop(clean=True)
    spool = Spool(tmp_path / "spool.sqlite3")
    try:
        stored = [(m.topic, json.loads(m.payload)) for m in spool.oldest(10)]
    finally:
        spool.close()
    root = f"{config.mqtt.topic_root}/lab/d1"
    assert stored == [(f"{root}/metrics", {"id": "m1"}), (f"{root}/play", {"id": "p1"})]
    assert not link.held


def test_a_stop_writes_the_held_plays_with_what_it_holds_and_a_start_reads_them(tmp_path):
    config = Config(site="lab", device="d1", paths=PathsConfig(spool=str(tmp_path / "spool.sqlite3")))
    link = uplink.Unstarted("mqtt: the link cannot be made", "", 0.0, config)
    link.send("totals", {"id": "t1"})
    link.keep_held(HeldRows({"form": b"1"}))
    link.stop(clean=True)
    again = uplink.Unstarted("mqtt: the link cannot be made", "", 0.0, config)
    assert again.read_held() == HeldRows({"form": b"1"}), "the next start restores them, link or none"


def test_the_uplink_gives_each_new_link_the_newest_held_plays(tmp_path):
    class Link(uplink.Unstarted):
        kept_here: list[bytes]

        def keep_held(self, body: HeldRows) -> None:
            self.kept_here = [*getattr(self, "kept_here", []), body]

    up = uplink.Uplink(on_command=lambda command: None, clock=lambda: 0.0)
    up.keep_held(HeldRows({"form": b"before any link"}))  # (nothing to give it to yet: kept)
    first = Link("mqtt: no", "", 0.0)
    up.link = first
    up.keep_held(HeldRows({"form": b"newest"}))
    assert first.kept_here == [HeldRows({"form": b"newest"})]
    config = Config(site="lab", device="d1", paths=PathsConfig(spool=str(tmp_path / "spool.sqlite3")),
                    mqtt={"url": "mqtt://127.0.0.1:9"})
    made = up.make(config, privacy_on=False)
    try:
        assert up.adopt(made, config)
        assert made.flush(timeout=5.0)
        assert made.spool is not None and made.spool.held() == HeldRows({"form": b"newest"}), \
            "a new link writes what is held"
    finally:
        made.stop(timeout=1.0)
