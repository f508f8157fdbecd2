"""A simulated fleet's traffic, as its kiosks would publish it: people by the time of day
(a morning, a lunch and an evening peak), plays back to back, and every figure about fewer
than the privacy minimum withheld. One generator for `signage fleet demo` and
`signage bench fleet`, so the bench measures the data a fleet sends.

`signage fleet demo` fills a database with yesterday and today of 12 screens on 3 sites, a
few in trouble, to try the dashboard without kiosks and to take the docs' screenshots.
Every message goes through the same validation and store as the MQTT ingest.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from signage.contributors import counts_publishable
from signage.fleet.parse import parse
from signage.fleet.store import Store
from signage.fleet.times import iso, now_utc

SITES = {"station": ["hall-1", "hall-2", "gate-a", "gate-b"], "mall": ["atrium", "food-court", "east", "west"],
         "campus": ["library", "canteen", "lobby", "sports"]}
# creative: (mean looking person-seconds per play, share happy, seconds on screen)
CREATIVES = {"spring-sale": (6.0, 0.45, 15), "coffee-2for1": (4.5, 0.35, 10), "new-menu": (3.0, 0.2, 12),
             "loyalty-app": (2.0, 0.15, 10), "weather": (1.2, 0.1, 8)}
MIN_GROUP = 3  # the kiosks' privacy.min_group: a figure about fewer people is withheld
SUPPRESSED = {"suppressed": True}
# The demo's screens in trouble, and the availability of those not online.
PROBLEMS: dict[tuple[str, str], dict[str, object]] = {
    ("station", "gate-b"): {"camera": "gone", "last_error": "camera /dev/video0 unplugged"},
    ("mall", "food-court"): {"privacy": True, "camera": "off"}}
AVAILABILITY = {("mall", "east"): "offline", ("campus", "sports"): "stopped"}
BATCH = 2000  # messages per store transaction while seeding


def traffic(hour: float) -> float:
    """People per minute passing a screen of average business, by the hour of the day."""
    return 0.3 + 6 * math.exp(-((hour - 12.5) / 1.6) ** 2) + 5 * math.exp(-((hour - 17.5) / 1.4) ** 2) + \
        2 * math.exp(-((hour - 8.5) / 1.0) ** 2)


@dataclass
class Screen:
    site: str
    device: str
    busy: float  # its place's traffic, relative to the day's curve
    next_play: datetime | None = None  # plays run back to back


class SimulatedFleet:
    def __init__(self, names: list[tuple[str, str]], seed: int = 7, root: str = "signage"):
        self.rng, self.root = random.Random(seed), root
        self.screens = [Screen(site, device, self.rng.uniform(0.5, 1.6)) for site, device in names]

    @classmethod
    def demo(cls, seed: int = 7) -> SimulatedFleet:
        return cls([(site, device) for site, devices in SITES.items() for device in devices], seed)

    @classmethod
    def numbered(cls, screens: int, seed: int = 0, sites: int = 10) -> SimulatedFleet:
        """site0/screen000, site1/screen001, …: many screens over `sites` sites."""
        return cls([(f"site{n % sites}", f"screen{n:03d}") for n in range(screens)], seed)

    def messages(self, start: datetime, until: datetime) -> Iterator[tuple[str, dict]]:
        """(topic, body) minute by minute, in time order across the screens: each screen's
        metrics of the minute, then its plays that start in it."""
        t = start
        while t < until:
            for screen in self.screens:
                crowd = screen.busy * traffic(t.hour + t.minute / 60)
                yield self._topic(screen, "metrics"), self._metrics(screen, t, crowd)
                if screen.next_play is None or screen.next_play < t:
                    screen.next_play = t
                while screen.next_play < t + timedelta(minutes=1):
                    play = self._play(screen, screen.next_play, crowd)
                    screen.next_play += timedelta(seconds=play["seconds"])
                    yield self._topic(screen, "play"), play
            t += timedelta(minutes=1)

    def states(self) -> Iterator[tuple[str, object]]:
        """Each screen's availability and status: online and fine unless PROBLEMS or
        AVAILABILITY name it."""
        for s in self.screens:
            yield self._topic(s, "available"), AVAILABILITY.get((s.site, s.device), "online")
            yield self._topic(s, "status"), {
                "site": s.site, "device": s.device, "version": "0.1.0", "uptime_s": 86000, "playing": "spring-sale",
                "camera": "ok", "playlist": "ok", "creatives": sorted(CREATIVES), "privacy": False, "display": "ok",
                "broker": "connected", "spool_depth": 0, "spool_dropped": 0,
                "last_error": None} | PROBLEMS.get((s.site, s.device), {})

    def _topic(self, screen: Screen, kind: str) -> str:
        return f"{self.root}/{screen.site}/{screen.device}/{kind}"

    def _metrics(self, screen: Screen, t: datetime, crowd: float) -> dict:
        rng = self.rng
        passers = sum(1 for _ in range(12) if rng.random() < min(1.0, crowd / 12))
        viewers = sum(1 for _ in range(passers) if rng.random() < 0.45)
        shown, watched = passers >= MIN_GROUP, viewers >= MIN_GROUP
        expressions: dict[str, int] = {}
        if watched:
            happy = sum(1 for _ in range(viewers) if rng.random() < 0.3)
            surprise = sum(1 for _ in range(viewers - happy) if rng.random() < 0.1)
            expressions = {"happy": happy, "surprise": surprise, "neutral": viewers - happy - surprise}
        distance, dwell, attention = _split(passers, ("near", "mid", "far")), _histogram(passers), _histogram(viewers)
        return {
            "site": screen.site, "device": screen.device, "id": str(uuid.uuid4()), "start": iso(t),
            "end": iso(t + timedelta(minutes=1)),
            "passers": passers if shown else None, "viewers": viewers if watched else None,
            "conversion": viewers / passers if watched else None, "attraction": 0.3 if shown else None,
            "peak_faces": min(passers, 4) if shown else None,
            # as a kiosk publishes a breakdown: whole when every cell someone is in has MIN_GROUP people
            "distance": distance if shown and _publishable(distance.values()) else SUPPRESSED,
            "dwell": dwell if shown and _publishable(dwell["counts"]) else SUPPRESSED,
            "attention": attention if watched and _publishable(attention["counts"]) else SUPPRESSED,
            "expressions": expressions if watched and _publishable(expressions.values()) else SUPPRESSED,
            "impressions": {}, "frames": 600, "dropped_frames": 0, "inference_ms": {"p50": 14.0, "p95": 22.0}}

    def _play(self, screen: Screen, start: datetime, crowd: float) -> dict:
        rng = self.rng
        creative = rng.choice(list(CREATIVES))
        mean, happy_share, seconds = CREATIVES[creative]
        in_view = crowd / 3  # people in front of the screen at once
        peak = min(4, int(in_view + rng.random()))
        # as a kiosk measures them: no more looking than peak viewers x seconds
        looking = round(min(max(0.0, rng.gauss(mean * in_view, mean * in_view / 2)), peak * seconds), 2)
        measured = peak >= MIN_GROUP
        return {
            "site": screen.site, "device": screen.device, "id": str(uuid.uuid4()), "creative": creative,
            "rule": "default", "start": iso(start), "end": iso(start + timedelta(seconds=seconds)),
            "seconds": float(seconds), "ended": "duration", "peak_faces": peak if measured else None,
            "mean_faces": round(min(in_view / 2, peak), 2) if measured else None,
            "peak_viewers": peak if measured else None, "looking_seconds": looking if measured else None,
            "expressions": {"happy": looking * happy_share, "neutral": looking * (1 - happy_share)} if measured
            else SUPPRESSED,
            # distinct people over the play: the demo's crowd stays for the whole play
            "ots": peak if measured else None, "viewers": peak if measured else None,
            "withheld": [] if measured else ["people", "looking", "expressions"]}


def _publishable(counts: Iterable[int]) -> bool:
    return counts_publishable(counts, MIN_GROUP)


def _split(n: int, labels: tuple[str, ...]) -> dict[str, int]:
    """n people over the labels, the remainder to the last."""
    share = n // len(labels)
    return {label: share for label in labels[:-1]} | {labels[-1]: n - share * (len(labels) - 1)}


def _histogram(n: int) -> dict:
    counts = _split(n, ("0-1", "1-3", "3+"))
    return {"buckets": list(counts), "counts": list(counts.values())}


def encode(body: object) -> bytes:
    """A message body as it goes on the wire (availability is plain text)."""
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def seed(store: Store, now: datetime | None = None) -> int:
    """Yesterday and today until `now` of the demo fleet, stored; how many metrics and plays."""
    now = now or now_utc()
    fleet = SimulatedFleet.demo()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    batch, count = [], 0
    for topic, body in itertools.chain(fleet.messages(day_start, now), fleet.states()):
        batch.append(parse(fleet.root, topic, encode(body)))
        if len(batch) >= BATCH:
            count += store.write(batch, now=now).stored
            batch = []
    return count + (store.write(batch, now=now).stored if batch else 0)
