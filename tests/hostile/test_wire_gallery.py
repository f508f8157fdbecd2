"""The hostile-broker gallery (tests/hostile/wire.py) against the real things, on SQLite
and on PostgreSQL: Mosquitto with TLS, passwords and the ACL as docs/security.md sets it
up and `signage fleet provision` writes it; a real kiosk (`signage run` under Xvfb) inside
its privacy schedule; a real `signage fleet` process. Its members, interleaved with
valid messages from the kiosk and from a scripted valid screen, are sent by the
attackers they name. Afterwards:

- every valid message is stored exactly once (its id in the database, the rollups
  counting each once), and nothing forged is;
- the poison is accounted for, reason by reason, in the fleet's invalid counters, with
  no dead letter; the forged screens are quarantined; the kiosk's refusals are told or
  counted, one for one;
- every page and export answers 200;
- the camera never opened (the kiosk's statuses and log, the fleet's status history);
- memory and disk stay within the bounds below (README, Securing a fleet);
- no process logged a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import signal
import subprocess
import sys
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from signage.fleet.database import database_url
from signage.fleet.ingest import QUEUED_QOS0
from signage.fleet.parse import RAW_KEPT, parse
from signage.fleet.provision import new_password, password_line
from signage.fleet.tables import counters, creative_days, dead_letters, metrics, plays, screen_hours, status_history
from tests.support.postgres import TempPostgres
from signage.modelfiles import PROJECT_ROOT
from tests.fleet import factory as f
from tests.fleet.dashboard import answer, csrf_of, get_routes, login
from tests.fleet.server import FleetServer
from tests.hostile.wire import (ATTACKER, GHOSTS, MEMBERS, PUBLISHER, QOS0_FLOOD, RAW_BUDGET_MB, RECENT, VICTIM,
                                Captured, Member, largest_metrics, largest_play, largest_status)
from tests.kiosk import make_config, within_now
from tests.secured import Peer, SecuredFleet, secured_fleet
from tests.support.waiting import wait_for

# The bounds (README, "Securing a fleet"). What one message waiting in the ingest holds at
# most: the largest valid status, parsed (test below).
WAITING_KB = 48
# The fleet's resident memory at its peak: the process at rest (about 165 MB on SQLite,
# 190 MB on PostgreSQL, pages and TLS included) and what waits for the database. The
# gallery fills the QoS 0 queue (QUEUED_QOS0 messages) while the database is held; the
# QoS 1 window (RECEIVE_MAXIMUM) may add as much again in the worst case. On main the
# same flood took the fleet to 715 MB.
FLEET_AT_REST_MB = 200
FLEET_PEAK_RSS_MB = FLEET_AT_REST_MB + QUEUED_QOS0 * WAITING_KB / 1024
KIOSK_PEAK_RSS_MB = 200  # a kiosk in privacy (no models loaded) under a command flood: about 115 MB
# What the database may grow to: the gallery's valid rows (about 2 MB, the QoS 0 flood's
# included), its raw payloads (RAW_BUDGET_MB; without that budget, the flood's alone would
# be 55 MB), rollups and status history; nothing of the poison, the forged or the
# quarantined. PostgreSQL's empty database is about 8 MB of it.
DATABASE_MB = 24
CHUNK = 1_000  # a flood goes out in chunks, with valid messages between them


@pytest.fixture(scope="module")
def postgres():
    server = TempPostgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """What `signage fleet --db` is given."""
    if request.param == "sqlite":
        return str(tmp_path / "fleet.sqlite3")
    return request.getfixturevalue("postgres").create_database("gallery")


def database_mb(engine: sa.Engine, db: str) -> float:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            return conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar() / 2**20
    return sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*")) / 2**20


def peak_rss_mb(pid: int) -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


class Attacker(Peer):
    """A client of the broker that sends a member's messages all at once."""

    def send(self, messages: list[tuple[str, bytes]], qos: int = 1, retain: bool = False) -> Counter:
        """The broker's answers (PUBACK reasons) to QoS 1 messages; QoS 0 ones as sent."""
        infos = [self.client.publish(topic, payload, qos=qos, retain=retain) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
        wait_for(lambda: all(info.mid in self._acks for info in infos), "the broker's answers", timeout=30)
        return Counter(self._acks.pop(info.mid) for info in infos)


class ValidScreen:
    """lab/k3, a provisioned screen that publishes valid plays, metrics and statuses
    between the members: each id must be stored once."""

    def __init__(self, peer: Attacker):
        self.peer, self.ids, self.rounds = peer, set(), 0

    def send(self, rounds: int = 1) -> None:
        """A play and a metrics message per round (and a status every fifth), further back
        in time each round."""
        site, device = PUBLISHER.split("/")
        messages = []
        for n in range(self.rounds, self.rounds + rounds):
            play = f.play(site=site, device=device, start=RECENT - timedelta(seconds=11 * n))
            interval = f.metrics(site=site, device=device, start=RECENT - timedelta(seconds=60 * n))
            messages += [(f.topic(play, "play"), f.encode(play)), (f.topic(interval, "metrics"), f.encode(interval))]
            if n % 5 == 0:
                messages.append((f"signage/{PUBLISHER}/status", f.encode(f.status(site=site, device=device))))
            self.ids |= {play["id"], interval["id"]}
        self.rounds += rounds
        assert self.peer.send(messages) == Counter({"Success": len(messages)})


class KioskProcess:
    """`signage run` as a kiosk runs it, its log in a file."""

    def __init__(self, config: Path, log: Path):
        self.log = log
        self._handle = log.open("w")
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), SDL_VIDEODRIVER="x11")
        self.process = subprocess.Popen([sys.executable, "-m", "signage.cli", "run", "--config", str(config)],
                                        cwd=PROJECT_ROOT, env=env, stdout=self._handle, stderr=subprocess.STDOUT)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()
        return self.process.returncode


def add_wide_identity(secured: SecuredFleet) -> str:
    """An integration user an operator gave `readwrite signage/#` by hand, beside what
    provision wrote (the broker restarted to read it). Its password."""
    folder = secured.broker.folder.parent / "mosquitto"
    password = new_password()
    with (folder / "passwd").open("a") as handle:
        handle.write(password_line("wide", password) + "\n")
    with (folder / "acl").open("a") as handle:
        handle.write("\nuser wide\ntopic readwrite signage/#\n")
    secured.broker.stop()
    secured.broker.start()
    return password


def kiosk_config(folder: Path, secured: SecuredFleet, samples: Path) -> Path:
    """The victim's config.yaml: provisioned, inside its privacy schedule for the whole test,
    the sample video as its camera (it would really run, were the camera ever opened)."""
    folder.mkdir()
    _, path = make_config(folder, secured.broker.url, site="lab", device="k1", privacy=f"{{schedule: {within_now()}}}",
                          mqtt=secured.kiosk_mqtt(VICTIM, interval=1, keepalive=5),
                          source=f"{{kind: video, path: '{samples / 'WolfgangLanger_Pexels.mp4'}'}}")
    return path


def chunks(messages: list, size: int = CHUNK):
    for i in range(0, len(messages), size):
        yield messages[i:i + size]


def command(web, value: str) -> None:
    """privacy `value` from the screen's page, as an operator sends it."""
    sent = web.post(f"/screen/{VICTIM}/command", data={"feature": "privacy", "value": value,
                                                       "csrf": csrf_of(web, f"/screen/{VICTIM}")},
                    follow_redirects=True)
    assert f"Sent privacy {value}" in sent.text, sent.text[-2000:]


@dataclass
class Sent:
    """What the gallery sent, and what must become of it."""

    outcomes: Counter = field(default_factory=Counter)
    stored: set[str] = field(default_factory=set)  # ids of the members valid at QoS 1: each stored once
    stored_qos0: set[str] = field(default_factory=set)  # and at QoS 0: each stored once, or dropped and counted

    def add(self, member: Member, messages: list[tuple[str, bytes]]) -> None:
        self.outcomes.update({outcome: member.copies for outcome in member.outcomes})
        if "stored" in member.outcomes:
            (self.stored_qos0 if member.qos == 0 else self.stored).update(json.loads(p)["id"] for _, p in messages)

    def __getitem__(self, outcome: str) -> int:
        return self.outcomes[outcome]

    def of(self, prefix: str) -> dict[str, int]:
        return {name: n for name, n in self.outcomes.items() if name.startswith(prefix)}


def test_the_hostile_broker_gallery(database, tmp_path, xvfb, samples):
    secured = secured_fleet(tmp_path / "fleet", [VICTIM, ATTACKER, PUBLISHER])
    wide_password = add_wide_identity(secured)
    url, ca, fleet_conf = secured.broker.url, secured.ca, secured.fleet
    settings = fleet_conf | {"devices": str(secured.fleet_config.parent / "devices.yaml"),
                             "command_key": str(secured.fleet_config.parent / "command.key"),
                             "raw_payload_mb": RAW_BUDGET_MB}
    fleet = FleetServer(tmp_path / "server", url, db=database, **settings).started()
    kiosk_conf = kiosk_config(tmp_path / "kiosk", secured, samples)
    kiosk = KioskProcess(kiosk_conf, tmp_path / "kiosk.log")
    engine = sa.create_engine(database_url(database))
    credentials = {name: (conf["mqtt"]["username"], conf["mqtt"]["password"])
                   for name, conf in secured.kiosks.items()}
    fleet_user = (fleet_conf["username"], fleet_conf["password"])
    # The kiosk's own traffic, and the commands the fleet sends it, as the fleet's credentials read them.
    recorder = Peer(url, ca, *fleet_user, subscribe=f"signage/{VICTIM}/#")
    attackers = {"kiosk": Attacker(url, ca, *credentials[ATTACKER]), "fleet": Attacker(url, ca, *fleet_user),
                 "wide": Attacker(url, ca, "wide", wide_password)}
    valid = ValidScreen(Attacker(url, ca, *credentials[PUBLISHER]))
    assert not any(peer.refused for peer in [recorder, valid.peer, *attackers.values()])
    captured, sent = Captured(), Sent()
    peaks = {}
    try:
        with fleet.client() as web:
            assert login(web).status_code == 303
            wait_for(lambda: any(s["device"] == "k1" and s["availability"] == "online"
                                 for s in web.get("/api/screens").json()), "the kiosk online on the fleet page", 60)
            # The fleet's own signed commands, inside the kiosk's schedule: ON holds it on, OFF
            # clears the ON and privacy stays on (one refusal). The attackers replay both.
            for value in ("ON", "OFF"):
                command(web, value)
                captured.commands[value] = wait_for(lambda value=value: next(
                    (p for t, p, _ in recorder.on("/privacy/set") if json.loads(p)["value"] == value), None),
                    f"the fleet's sealed privacy {value}")
            sent.outcomes["kiosk"] += 1
            for member in MEMBERS:
                with holding(database, fleet) if member.hold_database else contextlib.nullcontext():
                    sent.add(member, send(member, attackers[member.sender], captured, valid))
            settled(engine, sent, valid, recorder)
            walk_every_page(web, fleet_routes(tmp_path))
            page = web.get("/").text
            quarantined = re.search(r"(\d+) messages from\s+(\d+) unknown identities quarantined", page)
            assert quarantined and quarantined.groups() == (str(GHOSTS), str(GHOSTS)), page[-3000:]
        peaks["kiosk"] = peak_rss_mb(kiosk.process.pid)
        assert kiosk.stop() == 0
        # Started again: the retained commands are refused at boot, the camera stays off from the first frame.
        kiosk = KioskProcess(kiosk_conf, tmp_path / "kiosk-again.log")
        wait_for(lambda: sum("retained command ignored" in e for e in errors_of(recorder)) == sent["kiosk at boot"],
                 "the retained commands refused at boot", 60)
        peaks["fleet"] = peak_rss_mb(fleet.process.pid)
        assert kiosk.stop() == 0
        kiosk_ids = {json.loads(p)["id"] for t, p, _ in recorder.messages if t.endswith(("/play", "/metrics"))}
        wait_for(lambda: kiosk_ids <= stored_ids(engine), "the kiosk's last plays and metrics stored", 30)
    finally:
        for peer in [recorder, valid.peer, *attackers.values()]:
            peer.close()
        kiosk.stop()
        fleet.stop()
        secured.broker.stop()
    counts, size, ids = counter_values(engine), database_mb(engine, database), stored_ids(engine)
    print(f"gallery on {engine.dialect.name}: fleet peak RSS {peaks['fleet']:.0f} MB, kiosk {peaks['kiosk']:.0f} MB, "
          f"database {size:.1f} MB; {valid.rounds} rounds of valid messages, {len(kiosk_ids)} from the kiosk; "
          f"{len(ids & sent.stored_qos0)} of {len(sent.stored_qos0)} QoS 0 metrics stored; the counters {counts}")

    # Every valid message stored exactly once; nothing else.
    assert valid.ids | kiosk_ids | sent.stored <= ids
    assert ids <= valid.ids | kiosk_ids | sent.stored | sent.stored_qos0, "nothing forged"
    assert len(ids & sent.stored_qos0) + counts.get("qos0_dropped", 0) == len(sent.stored_qos0) == QOS0_FLOOD
    assert counts["duplicates"] == sent["duplicate"] and counts["expired"] == sent["expired"]
    with engine.begin() as conn:
        def total(query) -> int:
            return conn.execute(query).scalar()

        assert total(sa.select(sa.func.sum(creative_days.c.plays))) == total(
            sa.select(sa.func.count()).select_from(plays)), "each play counted once in the rollups"
        assert total(sa.select(sa.func.sum(screen_hours.c.intervals))) == total(
            sa.select(sa.func.count()).select_from(metrics)), "each interval counted once in the rollups"
        assert total(sa.select(sa.func.sum(sa.func.length(metrics.c.payload)))) <= RAW_BUDGET_MB * 2**20
        assert total(sa.select(sa.func.count()).select_from(dead_letters)) == 0
        history = conn.execute(sa.select(status_history.c.kind, status_history.c.detail)
                               .where((status_history.c.site == "lab") & (status_history.c.device == "k1"))).all()
    # The poison, reason by reason; the forged screens quarantined (above); the kiosk's
    # refusals, each told or counted.
    assert {name: n for name, n in counts.items() if name.startswith("invalid.")} == sent.of("invalid.")
    errors = errors_of(recorder)
    held = sum(int(re.search(r"refused ([\d,]+) more", e).group(1).replace(",", "")) for e in errors
               if "more commands" in e)
    assert held + sum("more commands" not in e for e in errors) == sent["kiosk"] + sent["kiosk at boot"]
    assert sum(kind == "refused" for kind, _ in history) == len(errors), "each refusal told is in the history"
    # The camera never opened.
    statuses = [json.loads(p) for t, p, _ in recorder.messages if t.endswith("/status")]
    assert statuses and all(s["privacy"] and s["camera"] == "off" and s["version"] != "forged" for s in statuses)
    assert {p for t, p, _ in recorder.messages if t.endswith("/privacy/state")} == {b"ON"}
    assert not [d for kind, d in history if kind == "status" and ("camera: off" in d or "privacy: True" in d)]
    logs = {"kiosk": kiosk_log(tmp_path), "fleet": fleet.output()}
    assert set(re.findall(r"status: camera (\w+)", logs["kiosk"])) == {"off"}
    assert "privacy mode off" not in logs["kiosk"] and "XNNPACK" not in logs["kiosk"], "no camera, no models"
    # Memory, disk, tracebacks.
    assert peaks["fleet"] < FLEET_PEAK_RSS_MB and peaks["kiosk"] < KIOSK_PEAK_RSS_MB, peaks
    assert size < DATABASE_MB
    assert fleet.process.returncode == 0
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name}: {text[max(0, text.index('Traceback') - 2000):][:6000]}"


def errors_of(recorder: Peer) -> list[str]:
    """The kiosk's refusals, as it published them on its error topic."""
    return [json.loads(p)["error"] for t, p, _ in recorder.on(f"{VICTIM}/error")]


def kiosk_log(folder: Path) -> str:
    return (folder / "kiosk.log").read_text() + (folder / "kiosk-again.log").read_text()


def test_the_documented_broker_keeps_what_arrives_while_the_fleet_is_away(tmp_path):
    """Mosquitto's default keeps 1,000 messages for a client and drops the rest silently:
    with the documented broker on main, a dashboard away while a screen sent 3,300
    messages received 1,000 of them (and in the gallery, a flood from one identity made
    the broker drop the kiosk's messages)."""
    from signage.config import TlsConfig
    from signage.fleet.ingest import Ingest
    from signage.fleet.store import Store

    secured = secured_fleet(tmp_path, [PUBLISHER])
    store = Store(database_url(str(tmp_path / "fleet.sqlite3")))
    store.migrate()
    fleet_conf = secured.fleet

    def ingest() -> Ingest:
        started = Ingest(store, secured.broker.url, client_id="fleet-away", username=fleet_conf["username"],
                         password=fleet_conf["password"], tls_files=TlsConfig(ca=str(secured.ca))).start()
        assert started.subscribed.wait(15)
        return started

    screen = ValidScreen(Attacker(secured.broker.url, secured.ca, *(secured.kiosks[PUBLISHER]["mqtt"][key]
                                                                     for key in ("username", "password"))))
    try:
        ingest().stop()  # its session stays on the broker, which queues for it
        screen.send(1_500)
        again = ingest()
        wait_for(lambda: again.stats.received == 3_300, "all 3,300 received", 30)
        wait_for(lambda: stored_ids(store.engine) == screen.ids, "the 3,000 plays and metrics stored")
        again.stop()
    finally:
        screen.peer.close()
        store.close()
        secured.broker.stop()


@pytest.mark.parametrize("kind,largest", [("metrics", largest_metrics), ("status", largest_status),
                                          ("play", largest_play)])
def test_a_message_waiting_for_the_database_holds_what_the_store_reads(kind, largest):
    """Thousands of messages wait in the ingest (RECEIVE_MAXIMUM in flight, QUEUED_QOS0 at
    QoS 0). On main each held its whole payload and, for metrics, up to MAX_IMPRESSIONS
    small models: 135 KB for the largest valid metrics, and a full QoS 0 queue of them took
    the fleet to 715 MB. Now at most RAW_KEPT bytes of the payload (what a dead letter
    shows) and the fields the store reads, with the metrics' row text made once."""
    payloads = [largest(n) for n in range(200)]
    gc.collect()
    tracemalloc.start()
    try:
        items = [parse("signage", f"signage/{ATTACKER}/{kind}", payload) for payload in payloads]
        held_kb = tracemalloc.get_traced_memory()[0] / len(items) / 1024
    finally:
        tracemalloc.stop()
    assert held_kb < WAITING_KB, f"{kind}: {held_kb:.0f} KB a message"
    item = items[0]
    assert item.size == len(payloads[0]) and item.raw == payloads[0][:RAW_KEPT]
    if kind == "metrics":
        kept, sent = json.loads(item.kept), json.loads(payloads[0])
        assert kept["impressions"] == sent["impressions"] and len(kept) == len(sent) + 1, "and the schema version"


@contextlib.contextmanager
def holding(db: str, fleet: FleetServer):
    """The fleet database's write lock held by another client (a backup, an operator's
    shell) until the ingest has dropped QoS 0 messages: its queue is full meanwhile."""
    engine = sa.create_engine(database_url(db), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(sa.text("LOCK TABLE metrics, plays IN SHARE MODE"))
        try:
            yield
            wait_for(lambda: "QoS 0 flood: message dropped" in fleet.output(), "the ingest's QoS 0 queue full", 60)
        finally:
            conn.rollback()
    engine.dispose()


def send(member: Member, attacker: Attacker, captured: Captured, valid: ValidScreen) -> list[tuple[str, bytes]]:
    """The member's messages, a chunk at a time with valid ones between; what was sent."""
    messages = member.messages(captured)
    for chunk in chunks(messages):
        answers = attacker.send(chunk, qos=member.qos, retain=member.retain)
        wanted = "Not authorized" if "broker" in member.outcomes else "Success"
        assert answers == Counter({wanted: len(chunk)}), f"{member.name}: {answers}"
        valid.send()
    return messages


def stored_ids(engine: sa.Engine) -> set[str]:
    with engine.begin() as conn:
        return set(conn.execute(sa.select(plays.c.id)).scalars()) | set(conn.execute(sa.select(metrics.c.id)).scalars())


def counter_values(engine: sa.Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {name: int(value) for name, value in conn.execute(sa.select(counters.c.name, counters.c.value))}


def settled(engine: sa.Engine, sent: Sent, valid: ValidScreen, recorder: Peer) -> None:
    """Until the fleet has taken everything: the valid stored, the poison counted."""
    kiosk = {json.loads(p)["id"] for t, p, _ in recorder.messages if t.endswith(("/play", "/metrics"))}
    wanted = valid.ids | kiosk | sent.stored
    try:
        wait_for(lambda: wanted <= stored_ids(engine), "the valid messages stored", 60)
    except AssertionError:
        missing = wanted - stored_ids(engine)
        raise AssertionError(f"{len(missing)} of {len(wanted)} valid messages never stored ({len(missing & kiosk)} of "
                             f"the kiosk's); the fleet's counters: {counter_values(engine)}") from None
    wait_for(lambda: counter_values(engine).get("invalid", 0) >= sum(sent.of("invalid.").values()),
             "the poison counted", 60)


def fleet_routes(folder: Path) -> list[tuple[str, list[str]]]:
    """The fleet app's GET routes and their query parameters (read off an app built over a
    throwaway store)."""
    from signage.fleet.store import Store
    from signage.fleet.web import WebSettings, create_app

    store = Store(database_url(str(folder / "routes.sqlite3")))
    app = create_app(WebSettings(store=store, login_hash="unused"))
    try:  # not the release files: they are files, not pages (tests/fleet/test_releases.py)
        return [(path, names) for path, names in get_routes(app) if not path.startswith("/releases/")]
    finally:
        app.state.writes.close()
        store.close()


def walk_every_page(web, routes: list[tuple[str, list[str]]]) -> None:
    """Every GET route, for each screen of the gallery, bare and with a range covering its data."""
    covering = {"start": (RECENT - timedelta(days=1)).date(), "end": date.today(), "day": RECENT.date(),
                "span": "week", "view": "fleet"}
    for path, names in routes:
        for screen in (VICTIM, ATTACKER, PUBLISHER):
            target = path.replace("lab/a", screen)
            for query in ({}, {name: covering[name] for name in names if name in covering}):
                status, text = answer(web, target, query)
                assert status == 200 and "Traceback" not in text, (target, query, status, text[-1000:])
    rows = web.get("/export/plays.json", params={"start": covering["start"], "end": covering["end"]}).json()["plays"]
    assert {row["device"] for row in rows} >= {"k1", "k3"}, "the exports hold the valid plays"
