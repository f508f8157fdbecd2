"""The hostile-broker gallery: what a client of the fleet's broker can send, as data. Each
member is named, sent by one attacker, and says what must become of it:

- `broker`: the broker's ACL refuses it (MQTT 5 PUBACK "Not authorized"); nothing of it
  reaches the fleet or the kiosk.
- `invalid.<reason>`: the fleet refuses it at parse and counts it under that reason
  (signage/fleet/parse.py REASONS); nothing of it is stored.
- `kiosk`: the kiosk refuses the command and changes nothing; each refusal is counted,
  told on `<root>/<site>/<device>/error` a few at a time, the rest as one count.
- `quarantined`: from an identity the fleet never provisioned; counted, never a screen.
- `stored`: valid under the sender's own identity (the fleet cannot know its figures are
  false); stored once each (at QoS 0: stored or dropped and counted), within the raw
  payload budget. `duplicate`: an id already stored, counted and not stored again;
  `expired`: older than the fleet's retention, counted and not stored.
- `kiosk at boot`: a retained command, refused again when the kiosk next starts.

The attackers hold what a stolen device or host would give them; the broker refuses
anonymous clients (tests/hostile/test_authority.py):

- `kiosk`: lab/k2's credentials, a provisioned kiosk that was compromised: it publishes as
  another screen (lab/k1), and poison under its own name.
- `fleet`: the fleet's broker credentials without its command key: it reads every topic,
  replays the commands it saw, and floods a kiosk with commands.
- `wide`: an integration user an operator gave `readwrite signage/#` by hand (the gap the
  fleet's quarantine exists for): it reports 10,000 screens that do not exist.

Flood sizes are what proves each bound, and no more (the gallery runs twice in `make
test`, on SQLite and on PostgreSQL):

- GHOSTS: the red team's 10,000 forged screens, twenty times the QUARANTINE_MAX identities
  the quarantine lists, and ten times the 1,000 messages Mosquitto queues per client by
  default (the documented broker raises that, or a flood drops others' messages).
- ABOVE_WINDOW: the red team's 4,100 poison messages, past the ingest's 4,000
  unacknowledged messages in flight (RECEIVE_MAXIMUM): a window of poison must not stop
  the valid messages behind it.
- COMMAND_FLOOD: 600 commands, 200 times the refusals a kiosk tells in a minute
  (refusals.BURST) and six times the commands it queues: past both bounds, every one
  still reaches the kiosk and is accounted for.
- QOS0_FLOOD: metrics at QoS 0 (outside the broker's flow control), as large as the
  models allow and padded to near MAX_MESSAGE_BYTES, more than the ingest queues at QoS 0
  (QUEUED_QOS0) and whose canonical payloads exceed the fleet's raw budget (RAW_BUDGET_MB,
  set in the gallery's fleet.yaml) several times over.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Callable

from signage.fleet.identities import QUARANTINE_MAX
from signage.fleet.ingest import QUEUED_QOS0, RECEIVE_MAXIMUM
from signage.wire.messages import (MAX_ERROR_CHARS, MAX_IMPRESSIONS, MAX_LABELS, MAX_MESSAGE_BYTES,
                                        MAX_PROBLEMS, STATUS_CREATIVES)
from signage.telemetry.refusals import BURST as TOLD_PER_WINDOW
from tests.fleet import factory as f

ROOT = "signage"
VICTIM, ATTACKER, PUBLISHER = "lab/k1", "lab/k2", "lab/k3"  # the real kiosk, the stolen one, a valid one

GHOSTS = 10_000
ABOVE_WINDOW = RECEIVE_MAXIMUM + 100
COMMAND_FLOOD = 600
QOS0_FLOOD = QUEUED_QOS0 + 1_000
RAW_BUDGET_MB = 2
assert GHOSTS >= 20 * QUARANTINE_MAX and COMMAND_FLOOD >= 200 * TOLD_PER_WINDOW

# Published figures: two hours ago, well inside the window of time the fleet accepts.
RECENT = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)


def _json(body) -> bytes:
    return json.dumps(body).encode()


def play(device: str = "k2", **changes) -> dict:
    return f.play(device=device, start=RECENT) | changes


def metrics(device: str = "k2", **changes) -> dict:
    return f.metrics(device=device, start=RECENT) | changes


def status(device: str = "k2", **changes) -> dict:
    return f.status(device=device) | changes


def spanning(seconds: float) -> dict:
    """start and end `seconds` apart (negative: end before start)."""
    return {"start": f.iso(RECENT), "end": f.iso(RECENT + dt.timedelta(seconds=seconds))}


def at_year(year: int) -> dict:
    return {"start": f"{year}-06-01T00:00:00Z", "end": f"{year}-06-01T00:00:10Z"}


def largest_metrics(n: int = 0) -> bytes:
    """A valid metrics message of lab/k2 as large as the models allow (MAX_IMPRESSIONS
    creatives of 64 characters), padded with spaces to near MAX_MESSAGE_BYTES: the fleet
    keeps it canonical (no padding) and only while the raw budget lasts."""
    impressions = {f"c{i:03d}-{'x' * 59}": {"plays": 1_000_000, "viewed": 1_000_000} for i in range(MAX_IMPRESSIONS)}
    body = metrics(id=str(uuid.uuid4()), impressions=impressions, start=f.iso(RECENT + dt.timedelta(seconds=n)),
                   end=f.iso(RECENT + dt.timedelta(seconds=n + 60)))
    text = json.dumps(body)
    return (text[:-1] + " " * (MAX_MESSAGE_BYTES - 100 - len(text)) + "}").encode()


def largest_status(n: int = 0) -> bytes:
    """A valid status of lab/k2 with every list and text at its bound: the heaviest message
    once parsed."""
    return _json(status(creatives=[f"c{i:03d}-{'x' * 59}" for i in range(STATUS_CREATIVES)],
                        problems=["p" * MAX_ERROR_CHARS] * MAX_PROBLEMS, last_error="e" * MAX_ERROR_CHARS,
                        playlist="q" * 600, uptime_s=n))


def largest_play(n: int = 0) -> bytes:
    return _json(play(id=str(uuid.uuid4()), expressions={f"e{i:02d}": 0.1 for i in range(MAX_LABELS)}))


def nested(depth: int) -> bytes:
    return b'{"site":' * depth + b'"lab"' + b"}" * depth


@dataclass(frozen=True)
class Member:
    name: str
    sender: str  # kiosk, fleet or wide (see the module's docstring)
    topic: str  # under the root; "{n}" is the copy's number
    payload: bytes | Callable[[Captured, int], bytes]
    expect: str | tuple[str, ...]  # one outcome of the module's docstring, or several
    copies: int = 1
    qos: int = 1
    retain: bool = False
    hold_database: bool = False  # sent while something else holds the fleet database's write lock

    @property
    def outcomes(self) -> tuple[str, ...]:
        return (self.expect,) if isinstance(self.expect, str) else self.expect

    def messages(self, captured: Captured) -> list[tuple[str, bytes]]:
        return [(f"{ROOT}/{self.topic.format(n=n)}",
                 self.payload if isinstance(self.payload, bytes) else self.payload(captured, n))
                for n in range(self.copies)]


@dataclass
class Captured:
    """What the fleet's credentials read off the wire: the fleet's sealed commands to the
    kiosk, by value (the real `signage fleet` sends them from its page during the gallery)."""

    commands: dict[str, bytes] = field(default_factory=dict)

    def sealed(self, value: str) -> bytes:
        return self.commands[value]

    def tampered(self, value: str, to: str) -> bytes:
        """The fleet's sealed command with its value changed, the signature kept."""
        return _json(json.loads(self.commands[value]) | {"value": to})


def command_flood(captured: Captured, n: int) -> bytes:
    """Replays, tampered seals, unsigned values and garbage, in turn."""
    return [captured.sealed("ON"), captured.tampered("ON", "OFF"), b"OFF", b"\xff{OFF"][n % 4]


K1, K2 = VICTIM, ATTACKER
FORGED_IDS = {"play": str(uuid.uuid4()), "metrics": str(uuid.uuid4())}
SENT_TWICE = _json(play())

# A kiosk's credentials, another screen's topics: the ACL refuses each.
FORGED = [
    Member("forged-status-camera-off", "kiosk", f"{K1}/status",
           _json(status(device="k1", privacy=True, camera="off", version="forged")), "broker", retain=True),
    Member("forged-play", "kiosk", f"{K1}/play", _json(play(device="k1", id=FORGED_IDS["play"])), "broker"),
    Member("forged-metrics", "kiosk", f"{K1}/metrics", _json(metrics(device="k1", id=FORGED_IDS["metrics"])),
           "broker"),
    Member("forged-offline", "kiosk", f"{K1}/available", b"offline", "broker", retain=True),
    Member("forged-privacy-off", "kiosk", f"{K1}/privacy/set", b"OFF", "broker"),
    Member("forged-ghosts-from-a-kiosk", "kiosk", "lab/ghost-k2-{n}/status",
           lambda c, n: _json(status(device=f"ghost-k2-{n}")), "broker", copies=100),
    Member("fleet-credentials-forge-status", "fleet", f"{K1}/status",
           _json(status(device="k1", version="forged")), "broker", retain=True),
    Member("fleet-credentials-forge-play", "fleet", f"{K1}/play", _json(play(device="k1", id=FORGED_IDS["play"])),
           "broker"),
]

# A kiosk's own identity, poison: refused at parse, by reason.
POISON = [
    Member("play-peak-viewers-1e30", "kiosk", f"{K2}/play", _json(play(peak_viewers=10**30)), "invalid.bounds"),
    Member("status-uptime-1e20", "kiosk", f"{K2}/status", _json(status(uptime_s=10**20)), "invalid.bounds"),
    Member("metrics-frames-1e30", "kiosk", f"{K2}/metrics", _json(metrics(frames=10**30)), "invalid.bounds"),
    Member("play-seconds-nan", "kiosk", f"{K2}/play", _json(play(seconds=math.nan)), "invalid.bounds"),
    Member("play-seconds-infinity", "kiosk", f"{K2}/play", _json(play(seconds=math.inf)), "invalid.bounds"),
    Member("play-looking-minus-infinity", "kiosk", f"{K2}/play", _json(play(looking_seconds=-math.inf)),
           "invalid.bounds"),
    Member("metrics-conversion-nan", "kiosk", f"{K2}/metrics", _json(metrics(conversion=math.nan)),
           "invalid.bounds"),
    Member("play-the-red-teams-negatives", "kiosk", f"{K2}/play",
           _json(play(peak_viewers=-1000, looking_seconds=-5000.0, expressions={"happy": 9000.0, "neutral": -150.0})),
           "invalid.bounds"),
    Member("metrics-passers-negative", "kiosk", f"{K2}/metrics", _json(metrics(passers=-3)), "invalid.bounds"),
    Member("status-spool-depth-negative", "kiosk", f"{K2}/status", _json(status(spool_depth=-(10**25))),
           "invalid.bounds"),
    Member("status-last-error-10k-chars", "kiosk", f"{K2}/status", _json(status(last_error="x" * 10_000)),
           "invalid.bounds"),
    Member("status-escape-sequence", "kiosk", f"{K2}/status", _json(status(last_error="\x1b[2J\x1b[31mpwned")),
           "invalid.bounds"),
    Member("play-end-before-start", "kiosk", f"{K2}/play", _json(play(**spanning(-5))), "invalid.time"),
    Member("metrics-end-before-start", "kiosk", f"{K2}/metrics", _json(metrics(**spanning(-60))), "invalid.time"),
    Member("play-year-9999", "kiosk", f"{K2}/play", _json(play(**at_year(9999))), "invalid.time"),
    Member("play-year-1970", "kiosk", f"{K2}/play", _json(play(**at_year(1970))), "invalid.time"),
    Member("play-1-mb", "kiosk", f"{K2}/play", _json(play(creative="x" * (1 << 20))), "invalid.size"),
    Member("status-1-mb", "kiosk", f"{K2}/status", b" " * (1 << 20) + _json(status()), "invalid.size"),
    Member("play-not-utf8", "kiosk", f"{K2}/play", b"\xff\xfe" + _json(play()), "invalid.json"),
    Member("status-latin1-inside", "kiosk", f"{K2}/status", _json(status()).replace(b'"0.1.0"', b'"caf\xe9"'),
           "invalid.json"),
    Member("metrics-nested-5000-deep", "kiosk", f"{K2}/metrics", nested(5000), "invalid.json"),
    Member("play-empty", "kiosk", f"{K2}/play", b"", "invalid.json"),
    Member("play-a-list", "kiosk", f"{K2}/play", b"[1, 2, 3]", "invalid.fields"),
    Member("play-seconds-a-word", "kiosk", f"{K2}/play", _json(play(seconds="ten")), "invalid.fields"),
    Member("status-privacy-a-list", "kiosk", f"{K2}/status", _json(status(privacy=["on"])), "invalid.fields"),
    Member("metrics-id-a-number", "kiosk", f"{K2}/metrics", _json(metrics(id=42)), "invalid.fields"),
    Member("play-unknown-field", "kiosk", f"{K2}/play", _json(play(admin=True)), "invalid.fields"),
    Member("play-more-looking-than-possible", "kiosk", f"{K2}/play",
           _json(play(looking_seconds=5000.0, expressions={"happy": 1.0})), "invalid.inconsistent"),
    Member("metrics-viewers-above-passers", "kiosk", f"{K2}/metrics", _json(metrics(passers=4, viewers=10)),
           "invalid.inconsistent"),
    Member("play-for-k1-on-its-own-topic", "kiosk", f"{K2}/play", _json(play(device="k1")), "invalid.mismatch"),
    Member("unknown-kind", "kiosk", f"{K2}/firmware", b'{"url": "http://evil.example/fw.bin"}', "invalid.kind"),
    Member("available-garbage", "kiosk", f"{K2}/available", b"pwned", "invalid.value"),
    Member("state-escape", "kiosk", f"{K2}/privacy/state", b"\x1b[2JOFF", "invalid.value"),
    Member("topic-60-kb", "kiosk", f"{K2}/{'x' * 60_000}", _json(status()), "invalid.kind"),
    Member("wide-site-name-too-long", "wide", f"{'l' * 100}/ghost/status", _json(status(device="ghost")),
           "invalid.topic"),
    Member("wide-device-name-not-ascii", "wide", "lab/gh\u00f6st/status", _json(status() | {"device": "gh\u00f6st"}),
           "invalid.topic"),
    # Valid, and still not stored twice nor past the retention.
    Member("play", "kiosk", f"{K2}/play", SENT_TWICE, "stored"),
    Member("play-sent-again", "kiosk", f"{K2}/play", SENT_TWICE, "duplicate"),
    Member("play-200-days-old", "kiosk", f"{K2}/play",
           _json(f.play(device="k2", start=RECENT - dt.timedelta(days=200))), "expired"),
    Member("poison-above-the-in-flight-window", "kiosk", f"{K2}/play",
           lambda c, n: _json(play(peak_viewers=10**30 + n)), "invalid.bounds", copies=ABOVE_WINDOW),
]

# The fleet's broker credentials, not its key: commands the kiosk refuses.
COMMANDS = [
    Member("replayed-privacy-on", "fleet", f"{K1}/privacy/set", lambda c, n: c.sealed("ON"), "kiosk"),
    Member("replayed-privacy-off", "fleet", f"{K1}/privacy/set", lambda c, n: c.sealed("OFF"), "kiosk"),
    Member("seal-with-its-value-changed", "fleet", f"{K1}/privacy/set", lambda c, n: c.tampered("ON", "OFF"),
           "kiosk"),
    Member("seal-moved-to-another-feature", "fleet", f"{K1}/playlist/set", lambda c, n: c.tampered("ON", "RELOAD"),
           "kiosk"),
    Member("unsigned-privacy-off", "fleet", f"{K1}/privacy/set", b"OFF", "kiosk"),
    Member("unsigned-json-privacy-off", "fleet", f"{K1}/privacy/set", b'{"value": "OFF"}', "kiosk"),
    Member("command-not-utf8", "fleet", f"{K1}/privacy/set", b"\xff\xfeOFF", "kiosk"),
    # The fleet ignores its own commands, but counts what is not one of them.
    Member("command-oversized", "fleet", f"{K1}/creative/set", b"x" * 100_000, ("kiosk", "invalid.size")),
    Member("command-unknown-feature", "fleet", f"{K1}/camera/set", b"ON", ("kiosk", "invalid.kind")),
    Member("command-flood", "fleet", f"{K1}/privacy/set", command_flood, "kiosk", copies=COMMAND_FLOOD),
    # Refused when sent, and again at the kiosk's next start: a command acts once, never
    # retained (the broker keeps one retained message a topic).
    Member("retained-unsigned-reload", "fleet", f"{K1}/playlist/set", b"RELOAD", ("kiosk", "kiosk at boot"),
           retain=True),
    Member("retained-replay-of-the-fleets-on", "fleet", f"{K1}/privacy/set", lambda c, n: c.sealed("ON"),
           ("kiosk", "kiosk at boot"), retain=True),
]

FLOODS = [
    Member("ghost-screens", "wide", "lab/ghost-{n}/status", lambda c, n: _json(status(device=f"ghost-{n}")),
           "quarantined", copies=GHOSTS),
    # While a backup or an operator's shell holds the database: the ingest's QoS 0 queue fills.
    Member("qos0-largest-metrics", "kiosk", f"{K2}/metrics", lambda c, n: largest_metrics(n), "stored",
           copies=QOS0_FLOOD, qos=0, hold_database=True),
]

MEMBERS = FORGED + POISON + COMMANDS + FLOODS
assert len({m.name for m in MEMBERS}) == len(MEMBERS)
