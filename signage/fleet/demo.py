"""`signage fleet demo`: fill a database with yesterday and today of a small fleet (12
screens on 3 sites, a few in trouble), to try the dashboard without kiosks and to take
the README's screenshots. Every message goes through the same validation and store as
the MQTT ingest."""

from __future__ import annotations

import json
import math
import random
import uuid
from datetime import datetime, timedelta

from signage.fleet.parse import parse
from signage.fleet.store import Store, now_utc

SITES = {"station": ["hall-1", "hall-2", "gate-a", "gate-b"], "mall": ["atrium", "food-court", "east", "west"],
         "campus": ["library", "canteen", "lobby", "sports"]}
# creative: (mean looking person-seconds per play, share happy, seconds on screen)
CREATIVES = {"spring-sale": (6.0, 0.45, 15), "coffee-2for1": (4.5, 0.35, 10), "new-menu": (3.0, 0.2, 12),
             "loyalty-app": (2.0, 0.15, 10), "weather": (1.2, 0.1, 8)}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _traffic(hour: float) -> float:
    """People per minute over a day: a lunch and an evening peak."""
    return 0.3 + 6 * math.exp(-((hour - 12.5) / 1.6) ** 2) + 5 * math.exp(-((hour - 17.5) / 1.4) ** 2) + \
        2 * math.exp(-((hour - 8.5) / 1.0) ** 2)


def messages(day_start: datetime, until: datetime, seed: int = 7):
    rng = random.Random(seed)
    for site, devices in SITES.items():
        for index, device in enumerate(devices):
            root = f"signage/{site}/{device}"
            scale = rng.uniform(0.5, 1.6)
            t = day_start
            while t < until:
                hour = t.hour + t.minute / 60
                passers = sum(1 for _ in range(12) if rng.random() < min(1.0, scale * _traffic(hour) / 12))
                viewers = sum(1 for _ in range(passers) if rng.random() < 0.45)
                if viewers >= 3:
                    happy = sum(1 for _ in range(viewers) if rng.random() < 0.3)
                    surprise = sum(1 for _ in range(viewers - happy) if rng.random() < 0.1)
                    mix = {"happy": happy, "surprise": surprise, "neutral": viewers - happy - surprise}
                else:
                    mix = {"suppressed": True}
                yield f"{root}/metrics", {
                    "site": site, "device": device, "id": str(uuid.uuid4()), "start": _iso(t),
                    "end": _iso(t + timedelta(minutes=1)),
                    # as the kiosk publishes them: counts below min_group (3) are withheld
                    "passers": passers if passers >= 3 else None, "viewers": viewers if viewers >= 3 else None,
                    "conversion": viewers / passers if passers >= 3 else None,
                    "attraction": 0.3 if passers >= 3 else None,
                    "peak_faces": min(passers, 4) if passers >= 3 else None,
                    "distance": {"near": passers} if passers >= 3 else {"suppressed": True},
                    "dwell": {"suppressed": True}, "attention": {"suppressed": True}, "expressions": mix,
                    "impressions": {}, "frames": 600, "dropped_frames": 0, "inference_ms": {"p50": 14.0, "p95": 22.0}}
                minute_end = t + timedelta(minutes=1)
                while t < minute_end:
                    creative = rng.choice(list(CREATIVES))
                    mean, happy_share, seconds = CREATIVES[creative]
                    crowd = scale * _traffic(hour) / 3
                    peak = min(4, int(crowd + rng.random()))
                    # as a kiosk measures them: no more looking than peak viewers x seconds
                    looking = min(max(0.0, rng.gauss(mean * crowd, mean * crowd / 2)), peak * seconds)
                    expressions = ({"happy": looking * happy_share, "neutral": looking * (1 - happy_share)}
                                   if peak >= 3 else {"suppressed": True})
                    yield f"{root}/play", {
                        "site": site, "device": device, "id": str(uuid.uuid4()), "creative": creative,
                        "rule": "default", "start": _iso(t), "end": _iso(t + timedelta(seconds=seconds)),
                        "seconds": float(seconds), "ended": "duration", "peak_faces": peak,
                        "mean_faces": min(crowd / 2, peak),
                        "peak_viewers": peak, "looking_seconds": round(looking, 2), "expressions": expressions}
                    t += timedelta(seconds=seconds)
            yield f"{root}/available", "offline" if (site, device) == ("mall", "east") else (
                "stopped" if (site, device) == ("campus", "sports") else "online")
            problems = {("station", "gate-b"): {"camera": "gone", "last_error": "camera /dev/video0 unplugged"},
                        ("mall", "food-court"): {"privacy": True, "camera": "off"}}
            yield f"{root}/status", {
                "site": site, "device": device, "version": "0.1.0", "uptime_s": 86000, "playing": "spring-sale",
                "camera": "ok", "playlist": "ok", "creatives": sorted(CREATIVES), "privacy": False, "display": "ok",
                "broker": "connected",
                "spool_depth": 0, "spool_dropped": 0, "last_error": None} | problems.get((site, device), {})


def seed(store: Store, now: datetime | None = None) -> int:
    now = now or now_utc()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)  # a whole day, and today
    batch, count = [], 0
    for topic, body in messages(day_start, now):
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        batch.append(parse("signage", topic, payload))
        if len(batch) >= 2000:
            count += store.write(batch, now=now).stored
            batch = []
    if batch:
        count += store.write(batch, now=now).stored
    return count
