"""Identity and authority on the wire (issue 18, findings 2 and 6): a real Mosquitto set up
as docs/security.md says (TLS, passwords, the ACL `signage fleet provision` writes), real
kiosks, the fleet's ingest and pages, and clients that try what a hostile broker client
would: publish as another screen, command a kiosk without the fleet's key, replay what the
fleet signed, turn a camera on inside its privacy schedule, flood a kiosk with commands."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time

import pytest

from signage.telemetry.inbox import BURST, EVERY_S
from signage.telemetry.refusals import BURST as TOLD_AT_ONCE
from tests.kiosk import make_config, run_with, within_now
from tests.secured import Peer, secured_fleet
from tests.support.waiting import wait_for

ROOT = "signage/lab/k1"


def status_payload(**fields) -> bytes:
    return json.dumps({"schema": 1, "site": "lab", "device": "k1", "version": "test", "uptime_s": 5, "playing": None,
                       "camera": "ok", "playlist": "ok", "privacy": False, "display": "ok", "last_error": None,
                       "broker": "connected", "spool": "ok", "spool_depth": 0, "spool_held": 0,
                       "spool_dropped": 0} | fields).encode()


def test_the_documented_broker_keeps_each_identity_to_its_own_topics(tmp_path):
    secured = secured_fleet(tmp_path, ["lab/k1", "lab/k2"])
    url, ca = secured.broker.url, secured.ca
    k1_conf, k2_conf, fleet_conf = secured.kiosks["lab/k1"]["mqtt"], secured.kiosks["lab/k2"]["mqtt"], secured.fleet
    peers = []

    def peer(*args, **kwargs) -> Peer:
        peers.append(Peer(url, ca, *args, **kwargs))
        return peers[-1]

    try:
        assert peer().refused == "Not authorized", "no anonymous client"
        assert peer("lab/k1", "not-the-password").refused == "Not authorized"
        k1 = peer(k1_conf["username"], k1_conf["password"], subscribe="signage/#")
        k2 = peer(k2_conf["username"], k2_conf["password"], subscribe="signage/lab/k1/#")
        assert k1.refused is None and k2.refused is None
        assert k1.publish(f"{ROOT}/status", status_payload(), retain=True) == "Success"
        # Another kiosk's credentials: no forged status (the red team's "camera off" while it ran),
        # no command, no reading of k1's commands.
        forged = status_payload(privacy=True, camera="off")
        assert k2.publish(f"{ROOT}/status", forged, retain=True) == "Not authorized"
        assert k2.publish(f"{ROOT}/privacy/set", b"OFF") == "Not authorized"
        assert k2.publish("signage/lab/k2/status", status_payload(device="k2"), retain=True) == "Success"
        fleet = peer(fleet_conf["username"], fleet_conf["password"], subscribe="signage/#")
        assert fleet.refused is None
        command = secured.signer.seal(f"{ROOT}/privacy/set", "ON")
        assert fleet.publish(f"{ROOT}/privacy/set", command) == "Success", "the fleet publishes commands"
        assert fleet.publish(f"{ROOT}/status", forged, retain=True) == "Not authorized", "and nothing else"
        wait_for(lambda: k1.on("/privacy/set"), "k1 gets its command")
        statuses = {topic: payload for topic, payload, _ in fleet.messages if topic.endswith("/status")}
        assert statuses == {f"{ROOT}/status": status_payload(), "signage/lab/k2/status": status_payload(device="k2")}, \
            "the fleet trusts what the broker let through: each status from its own device"
        time.sleep(0.5)  # what the broker would still deliver
        assert k2.messages == [], "k2 reads none of k1's topics"
        assert [m[0] for m in k1.messages] == [f"{ROOT}/privacy/set"], "k1 reads only its own commands"
    finally:
        for each in peers:
            each.close()
        secured.broker.stop()


def test_unknown_identities_are_quarantined_not_made_screens(tmp_path, broker):
    """A broker that lets a stranger through (no ACL): the fleet stores only what its
    provisioned devices send, counts and lists the rest, and marks its screens."""
    from fastapi.testclient import TestClient

    from signage.fleet.database import database_url
    from signage.fleet.identities import Identities, Provisioned, save_devices
    from signage.fleet.ingest import Ingest
    from signage.fleet.passwords import hash_password
    from signage.fleet.store import Store
    from signage.fleet.web import WebSettings, create_app
    from tests.fleet.dashboard import login
    from tests.subscriber import Subscriber

    devices = tmp_path / "devices.yaml"
    save_devices(devices, [Provisioned(site="lab", device="k1", provisioned=dt.datetime.now(dt.timezone.utc))])
    identities = Identities(devices)
    store = Store(database_url(str(tmp_path / "fleet.sqlite3")))
    store.migrate()
    ingest = Ingest(store, broker.url, client_id="fleet-test", identities=identities).start()
    sender = Subscriber(broker.url, "nothing/here")
    try:
        assert ingest.subscribed.wait(10)
        sender.client.publish(f"{ROOT}/status", status_payload(), qos=1, retain=True)
        for n in range(200):  # the red team's forged screens, fewer
            sender.client.publish(f"signage/lab/ghost-{n}/status", status_payload(device=f"ghost-{n}"), qos=1)
        wait_for(lambda: ingest.stats.quarantined >= 200, "the ghosts quarantined")
        app = create_app(WebSettings(store=store, login_hash=hash_password("password-1"), identities=identities))
        with TestClient(app, base_url="http://testserver") as client:
            login(client, "password-1")
            screens = wait_for(lambda: client.get("/api/screens").json(), "k1's status stored")
            assert [(s["site"], s["device"]) for s in screens] == [("lab", "k1")], "no ghost became a screen"
            page = client.get("/").text
            assert "200 messages from" in page and "200 unknown identities quarantined" in page
            assert "new identity" in page, "k1 was provisioned today"
            quarantine = client.get("/quarantine").text
            assert "ghost-0" in quarantine and "ghost-199" in quarantine
    finally:
        sender.close()
        ingest.stop()
        store.close()


@pytest.mark.parametrize("local", ["schedule", "start_in_privacy"])
def test_no_remote_command_turns_the_camera_on_where_the_kiosk_wants_it_off(local, tmp_path, xvfb, models_dir,
                                                                            samples, monkeypatch):
    """The red team's `privacy/set OFF` from an anonymous client turned a scheduled camera on.
    Here: from another kiosk's credentials (the broker refuses), unsigned from the fleet's
    (the kiosk refuses), signed by the fleet (accepted: it clears a remote ON, nothing more),
    and replayed (refused). The camera is never started."""
    from signage.kiosk.app import Kiosk

    secured = secured_fleet(tmp_path / "fleet", ["lab/k1", "lab/k2"])
    privacy = f"{{schedule: {within_now()}}}" if local == "schedule" else "{start_in_privacy: true}"
    config, path = make_config(tmp_path, secured.broker.url, site="lab", device="k1", privacy=privacy,
                               mqtt=secured.kiosk_mqtt("lab/k1", interval=1, keepalive=5))
    kiosk = Kiosk(config, config_path=path)
    camera_started = []
    real_start = kiosk.vision.start
    monkeypatch.setattr(kiosk.vision, "start", lambda *a: camera_started.append(a) or real_start(*a))
    k2_conf, fleet_conf = secured.kiosks["lab/k2"]["mqtt"], secured.fleet
    fleet = Peer(secured.broker.url, secured.ca, fleet_conf["username"], fleet_conf["password"],
                 subscribe=f"{ROOT}/#")
    k2 = Peer(secured.broker.url, secured.ca, k2_conf["username"], k2_conf["password"])
    errors = []

    def error_saying(text: str) -> str:
        def found():
            for _topic, payload, _ in fleet.on("/error"):
                reason = json.loads(payload)["error"]
                if text in reason and reason not in errors:
                    errors.append(reason)
                    return reason
            return None
        return wait_for(found, f"an error saying {text!r}", timeout=20)

    def script(kiosk):
        wait_for(lambda: fleet.on("/privacy/state"), "the kiosk's privacy echo")
        assert kiosk.privacy.on
        assert k2.publish(f"{ROOT}/privacy/set", b"OFF") == "Not authorized"
        assert fleet.publish(f"{ROOT}/privacy/set", b"OFF") == "Success"
        error_saying("unsigned")
        on = secured.signer.seal(f"{ROOT}/privacy/set", "ON")
        fleet.publish(f"{ROOT}/privacy/set", on)
        fleet.publish(f"{ROOT}/privacy/set", secured.signer.seal(f"{ROOT}/privacy/set", "OFF"))
        reason = error_saying("privacy stays on")
        assert ("privacy.schedule" if local == "schedule" else "start_in_privacy") in reason
        fleet.publish(f"{ROOT}/privacy/set", on)  # replayed off the wire
        error_saying("replayed")
        time.sleep(1.5)  # a few more loop turns with the schedule step
        assert kiosk.privacy.on and not kiosk.privacy.remote_on

    try:
        run_with(kiosk, script)
    finally:
        fleet.close()
        k2.close()
        secured.broker.stop()
    assert camera_started == [], "the camera never started"
    states = [payload for topic, payload, _ in fleet.messages if topic.endswith("/privacy/state")]
    assert set(states) == {b"ON"}, "privacy echoed ON throughout"
    statuses = [json.loads(p) for t, p, _ in fleet.messages if t.endswith("/status")]
    assert statuses and all(s["privacy"] and s["camera"] == "off" for s in statuses)


def test_a_remote_off_outside_the_schedule_clears_a_remote_on(tmp_path, xvfb, broker, models_dir, samples):
    """Outside its schedule a kiosk follows the fleet both ways: ON releases the camera, OFF
    takes it back (the kiosk's own settings allow it)."""
    from signage.kiosk.app import Kiosk
    from tests.commands import fleet_key
    from tests.subscriber import Subscriber

    key = fleet_key(tmp_path)
    elsewhere = within_now(hours_before=-4, hours_after=5)  # a window that starts in four hours
    config, path = make_config(tmp_path, broker.url, site="lab", device="k1", privacy=f"{{schedule: {elsewhere}}}",
                               mqtt=f"{{url: '{broker.url}', interval: 1, keepalive: 5, commands: "
                                    f"{{public_key: '{key.public_text}'}}}}")
    kiosk = Kiosk(config, config_path=path)
    wire = Subscriber(broker.url, f"{ROOT}/#")
    topic = f"{ROOT}/privacy/set"

    def state_is(value: bytes):
        return lambda: (s := wire.on("/privacy/state")) and s[-1].payload == value

    def script(kiosk):
        wait_for(state_is(b"OFF"), "camera on")
        wire.client.publish(topic, key.seal(topic, "ON"), qos=1)
        wait_for(state_is(b"ON"), "privacy on")
        assert kiosk.privacy.on and not kiosk.vision.running
        wire.client.publish(topic, key.seal(topic, "OFF"), qos=1)
        wait_for(state_is(b"OFF"), "privacy off again")
        wait_for(lambda: kiosk.vision.running, "the camera back")

    try:
        run_with(kiosk, script)
    finally:
        wire.close()
    assert not wire.on("/error"), [m.payload for m in wire.on("/error")]


class Counter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def roomy_broker(tmp_path):
    """A broker that drops nothing however slow a subscriber is: a flood's every message
    reaches the kiosk, so each one is accounted for."""
    from tests.broker import Broker

    folder = tmp_path / "roomy-broker"
    folder.mkdir()
    running = Broker(folder, max_queued=0).start()
    yield running
    running.stop()


def test_a_command_flood_costs_bounded_lines_messages_and_plays(tmp_path, xvfb, roomy_broker, models_dir, samples):
    """The red team's 10,000 commands of each kind in about 2 s wrote 40,638 log lines, 30,600
    error messages and 534 plays. Here, per kind, 10,000 commands: unsigned, garbage, and
    valid ones sealed by the fleet, each kind's own rate, every refusal counted."""
    from signage.kiosk.app import Kiosk
    from tests.commands import fleet_key
    from tests.subscriber import Subscriber

    broker = roomy_broker
    key = fleet_key(tmp_path)
    config, path = make_config(tmp_path, broker.url, site="lab", device="k1",
                               mqtt=f"{{url: '{broker.url}', interval: 1, keepalive: 5, commands: "
                                    f"{{public_key: '{key.public_text}'}}}}")
    kiosk = Kiosk(config, config_path=path)
    wire = Subscriber(broker.url, f"{ROOT}/#")
    flood = Subscriber(broker.url, "nothing/here")
    kinds = {"privacy": ("ON", "OFF"), "playlist": ("RELOAD",), "creative": ("idle-a", "idle-b", "nope")}
    payloads = []
    counter = Counter()
    timing = {}

    def script(kiosk):
        wait_for(lambda: wire.on("/privacy/state"), "the kiosk's link")
        # Sealed once the link is up: a command signed before it started is refused as a
        # possible replay, and the valid third must meet the rates, not that check.
        for n in range(10_000):
            for feature, values in kinds.items():
                topic, value = f"{ROOT}/{feature}/set", values[n % len(values)]
                form = n % 4
                payloads.append((topic, key.seal(topic, value) if form < 2 else value.encode() if form == 2
                                 else b"\xff{" + value.encode()))
        logging.getLogger("signage").addHandler(counter)
        logging.getLogger("signage").setLevel(logging.INFO)  # as the kiosk logs in the field (journald)
        timing["start"] = time.monotonic()
        infos = [flood.client.publish(topic, payload, qos=1) for topic, payload in payloads]
        infos[-1].wait_for_publish(120)
        timing["sent"] = time.monotonic()
        seen = {"count": -1, "since": time.monotonic()}

        def settled() -> bool:  # the kiosk's count of refusals has stopped moving
            count = kiosk.telemetry.commands_refused
            if count != seen["count"]:
                seen.update(count=count, since=time.monotonic())
            return time.monotonic() - seen["since"] > 3 and kiosk.commands.empty()

        wait_for(settled, "the flood handled", timeout=180)
        timing["end"], timing["refused"] = time.monotonic(), kiosk.telemetry.commands_refused
        timing["received"] = kiosk.telemetry.commands_received
        assert kiosk.telemetry.alive() and kiosk.telemetry.connected

    try:
        run_with(kiosk, script)
    finally:
        logging.getLogger("signage").removeHandler(counter)
        logging.getLogger("signage").setLevel(logging.NOTSET)
        flood.close()
    elapsed = timing["end"] - timing["start"]
    wait_for(lambda: any(b"more commands" in m.payload for m in wire.on("/error")), "the count of the held back")
    wire.close()
    plays = [m.json() for m in wire.on("/play") if m.json()["rule"] == "command"]
    states = wire.on("/state")
    errors = [json.loads(m.payload)["error"] for m in wire.on("/error")]
    lines = [r for r in counter.records if r.levelno >= logging.INFO]
    print(f"flood: {len(payloads)} commands sent in {timing['sent'] - timing['start']:.1f} s, handled in "
          f"{elapsed:.1f} s; {timing['refused']} refused; {len(plays)} plays, {len(states)} state echoes, "
          f"{len(errors)} error messages, {len(lines)} log lines")
    rate_bound = BURST + elapsed / EVERY_S + 1  # per kind: what its rate lets through in that time
    assert len(plays) <= rate_bound, f"{len(plays)} plays from creative/set"
    assert len(states) <= 3 * rate_bound + 2, f"{len(states)} state echoes"
    windows = int(elapsed // 60) + 2  # refusal windows begun during the flood, and the summary at stop
    assert len(errors) <= (TOLD_AT_ONCE + 1) * windows, f"{len(errors)} error messages"
    held = sum(int(re.search(r"refused ([\d,]+) more", e).group(1).replace(",", "")) for e in errors
               if "more commands" in e)
    told = sum("more commands" not in e for e in errors)
    assert held + told == timing["refused"], "every refusal is told or counted"
    assert timing["received"] == len(payloads), "the broker delivered the whole flood"
    assert timing["refused"] >= timing["received"] - 3 * rate_bound, "all but what the rates let through is refused"
    # Per accepted command a few lines (the command, the privacy switch, the reload); the refusals' lines.
    assert len(lines) <= 4 * 3 * rate_bound + (TOLD_AT_ONCE + 1) * windows, \
        f"{len(lines)} log lines: {[r.getMessage()[:80] for r in lines[:40]]}"


def test_the_fleet_commands_a_kiosk_through_tls_and_the_acl_and_a_replay_is_refused(tmp_path, xvfb, models_dir,
                                                                                    samples):
    """`signage fleet` as provisioned (its broker user, TLS, its command key) sends privacy
    ON from its page; the kiosk applies it. The same sealed message,
    replayed by a client holding the fleet's broker credentials, is refused."""
    import os
    import subprocess
    import sys

    import httpx
    import yaml

    from signage.fleet.passwords import hash_password
    from signage.kiosk.app import Kiosk
    from signage.modelfiles import PROJECT_ROOT
    from tests.broker import free_port

    secured = secured_fleet(tmp_path / "fleet", ["lab/k1"])
    settings = yaml.safe_load(secured.fleet_config.read_text()) | {"login_hash": hash_password("password-1")}
    secured.fleet_config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log = (tmp_path / "fleet.log").open("w")
    dashboard = subprocess.Popen([sys.executable, "-m", "signage.cli", "fleet", "--config", str(secured.fleet_config),
                                  "--db", str(tmp_path / "fleet.sqlite3"), "--port", str(port)],
                                 env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)), cwd=PROJECT_ROOT, stdout=log,
                                 stderr=subprocess.STDOUT)
    config, path = make_config(tmp_path, secured.broker.url, site="lab", device="k1",
                               mqtt=secured.kiosk_mqtt("lab/k1", interval=1, keepalive=5))
    kiosk = Kiosk(config, config_path=path)
    wire = Peer(secured.broker.url, secured.ca, settings["username"], settings["password"], subscribe=f"{ROOT}/#")

    def script(kiosk):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
            def logged_in():
                try:
                    token = re.search(r'name="login_token" value="([^"]+)"', web.get("/login").text).group(1)
                except httpx.TransportError:
                    return False
                return web.post("/login", data={"password": "password-1", "login_token": token}).status_code == 303

            wait_for(logged_in, "the dashboard up", timeout=60)
            wait_for(lambda: web.get("/api/screens").json(), "lab/k1 on the fleet page (its status, over TLS)")
            page = web.get("/screen/lab/k1").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            sent = web.post("/screen/lab/k1/command", data={"feature": "privacy", "value": "ON", "csrf": token},
                            follow_redirects=True)
            assert "Sent privacy ON" in sent.text, sent.text[-2000:]
        wait_for(lambda: kiosk.privacy.on, "privacy on, by the fleet's signed command")
        (sealed,) = [payload for topic, payload, _ in wire.messages if topic == f"{ROOT}/privacy/set"]
        assert json.loads(sealed)["value"] == "ON" and "sig" in json.loads(sealed)
        kiosk.privacy.remote_on = False  # as if an operator had cleared it: the replay would turn it on again
        assert wire.publish(f"{ROOT}/privacy/set", sealed) == "Success"
        wait_for(lambda: any(b"replayed" in p for t, p, _ in wire.messages if t.endswith("/error")), "refused")
        assert not kiosk.privacy.remote_on

    try:
        run_with(kiosk, script)
    finally:
        wire.close()
        dashboard.terminate()
        dashboard.wait(timeout=30)
        log.close()
        secured.broker.stop()
    key = secured.fleet_config.parent / "command.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "Traceback" not in (tmp_path / "fleet.log").read_text()
