"""Valid device messages (checked against signage/wire/messages.py) for the fleet tests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from signage.wire.messages import Metrics, Play, PlayTotals, Status

# Two weeks ago at 09:00 UTC: messages well inside the window of time the fleet accepts
# (old but not expired), whatever day the tests run.
T0 = (datetime.now(timezone.utc) - timedelta(days=14)).replace(hour=9, minute=0, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def metrics(site="lab", device="a", start=T0, passers=4, viewers=3, expressions=None, **extra) -> dict:
    body = {"site": site, "device": device, "id": str(uuid.uuid4()), "start": iso(start),
            "end": iso(start + timedelta(seconds=60)), "passers": passers, "viewers": viewers,
            "conversion": viewers / passers if passers else None, "attraction": 0.5 if passers else None,
            "peak_faces": 3, "distance": {"near": 1, "mid": 2, "far": 1},
            "dwell": {"buckets": ["0-1", "1-3", "3+"], "counts": [1, 2, 1]},
            "attention": {"buckets": ["0-1", "1-3", "3+"], "counts": [0, 2, 1]},
            "expressions": expressions if expressions is not None else {"happy": 2, "neutral": 1},
            "impressions": {"spring": {"plays": 2, "viewed": 1}}, "frames": 600, "dropped_frames": 2,
            "inference_ms": {"p50": 12.0, "p95": 20.0}} | extra
    Metrics.model_validate(body)
    return body


def play(site="lab", device="a", creative="spring", start=T0, seconds=10.0, looking=6.0, expressions=None,
         peak_viewers=2, **extra) -> dict:
    body = {"site": site, "device": device, "id": str(uuid.uuid4()), "creative": creative, "rule": "default",
            "start": iso(start), "end": iso(start + timedelta(seconds=seconds)), "seconds": seconds,
            "ended": "duration", "peak_faces": 3, "mean_faces": 1.5, "peak_viewers": peak_viewers,
            "looking_seconds": looking,
            "expressions": expressions if expressions is not None else {"happy": looking / 2, "neutral": looking / 2}
            } | extra
    Play.model_validate(body)
    return body


def status(site="lab", device="a", **extra) -> dict:
    body = {"site": site, "device": device, "version": "0.1.0", "uptime_s": 10, "playing": "spring",
            "camera": "ok", "playlist": "ok", "creatives": ["spring", "summer"], "privacy": False, "display": "ok",
            "broker": "connected", "spool_depth": 0, "spool_dropped": 0, "last_error": None} | extra
    Status.model_validate(body)
    return body


def topic(body: dict, kind: str, root: str = "signage") -> str:
    return f"{root}/{body['site']}/{body['device']}/{kind}"


def encode(body) -> bytes:
    return json.dumps(body).encode() if not isinstance(body, (bytes, str)) else (
        body.encode() if isinstance(body, str) else body)


def totals(site="lab", device="a", period="day", start=None, length=None, **creatives) -> dict:
    """A `totals` message: plays released in aggregate, per creative ({"plays", "seconds"}),
    for the day of T0 unless told."""
    start = start or T0.replace(hour=0)
    length = length or (timedelta(days=1) if period == "day" else timedelta(hours=1))
    body = {"site": site, "device": device, "id": str(uuid.uuid4()), "period": period, "start": iso(start),
            "end": iso(start + length), "creatives": creatives}
    PlayTotals.model_validate(body)
    return body
