"""Every field of every device message is bounded at parse (finite, non-negative where it
is a count or a duration, plausible, consistent, inside a window of time), and what the
kiosk's own builders make from extreme but real inputs is always inside those bounds."""

from __future__ import annotations

import datetime as dt
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signage.audience import EXPRESSIONS, ZONES, AudienceSnapshot, StageTimes, TrackSummary
from signage.clock import utc_iso
from signage.contributors import Contributions
from signage.fleet.parse import Invalid, parse
from signage.kiosk.health import status_of
from signage.kiosk.problems import Problems
from signage.playlist.player import PlayRecord
from signage.telemetry.metrics import Aggregator, play_message
from signage.wire.messages import MAX_ERROR_CHARS, MAX_MESSAGE_BYTES, ContentState, Error, Status, fit
from tests.fleet import factory as f

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
RECENT = NOW - dt.timedelta(hours=3)
DAY = 86400.0


def at(moment: dt.datetime) -> str:
    return f.iso(moment)


def refused(kind: str, body: dict) -> Invalid:
    with pytest.raises(Invalid) as caught:
        parse("signage", f"signage/{body['site']}/{body['device']}/{kind}", f.encode(body))
    return caught.value


def accepted(kind: str, body: dict | bytes, now: dt.datetime | None = None, topic: str | None = None):
    return parse("signage", topic or f"signage/{body['site']}/{body['device']}/{kind}", f.encode(body),
                 now=(now or NOW).replace(tzinfo=None))


def play(**changes) -> dict:
    return f.play(start=RECENT) | changes


def metrics(**changes) -> dict:
    return f.metrics(start=RECENT) | changes


def spanning(start: dt.datetime, end: dt.datetime) -> dict:
    return {"start": at(start), "end": at(end)}


HOSTILE = [
    # (kind, body, reason): one member of each class the red team found, and its neighbours
    ("play", play(seconds=math.inf), "bounds"),
    ("play", play(seconds=math.nan), "bounds"),
    ("play", play(seconds=-1.0), "bounds"),
    ("play", play(seconds=400 * DAY), "bounds"),
    ("play", play(looking_seconds=math.nan), "bounds"),
    ("play", play(peak_viewers=10**30), "bounds"),
    ("play", play(peak_faces=10**30), "bounds"),
    ("play", play(mean_faces=-0.5), "bounds"),
    ("play", play(peak_viewers=-1000, looking_seconds=-5000.0, expressions={"happy": 9000.0, "neutral": -150.0}),
     "bounds"),
    ("play", play(expressions={"happy": 9000.0, "neutral": 0.0}), "inconsistent"),  # 9000 s of 6 looked
    ("play", play(looking_seconds=5000.0, expressions={"happy": 1.0}), "inconsistent"),  # 2 viewers x 10 s
    ("play", play(mean_faces=50.0), "inconsistent"),  # peak 3
    ("play", play(expressions={"x" * 40: 1.0}), "bounds"),
    ("play", play(creative="x" * 65), "bounds"),
    ("play", play(creative="a/b"), "bounds"),
    ("play", play(rule=""), "bounds"),
    ("play", play(id="x" * 65), "bounds"),
    ("play", play(**spanning(RECENT, RECENT - dt.timedelta(seconds=5))), "time"),  # end before start
    ("play", play(start="9999-12-31T00:00:00Z", end="9999-12-31T00:00:10Z"), "time"),
    ("play", play(start="0001-01-01T00:00:00+05:00", end="0001-01-01T00:00:10+05:00"), "time"),
    ("play", play(**spanning(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),
                             dt.datetime(1970, 1, 1, 0, 0, 10, tzinfo=dt.timezone.utc))), "time"),
    ("play", play(**spanning(NOW + dt.timedelta(hours=3), NOW + dt.timedelta(hours=3, seconds=10))), "time"),
    ("play", play(start="yesterday"), "time"),
    ("play", play(start="2026-12-01T10:00:00Z" + " " * 60), "bounds"),
    ("status", f.status() | dict(uptime_s=10**20), "bounds"),
    ("status", f.status() | dict(uptime_s=-1), "bounds"),
    ("status", f.status() | dict(spool_depth=-5), "bounds"),
    ("status", f.status() | dict(spool_dropped=10**30), "bounds"),
    ("status", f.status() | dict(faults=-1), "bounds"),
    ("status", f.status() | dict(last_error="x" * 10_000), "bounds"),
    ("status", f.status() | dict(last_error="a NUL \x00 byte"), "bounds"),
    ("status", f.status() | dict(problems=["the same problem"] * 1000), "bounds"),
    ("status", f.status() | dict(problems=["y" * 5000]), "bounds"),
    ("status", f.status() | dict(version="v" * 1000), "bounds"),
    ("status", f.status() | dict(playing="x" * 200), "bounds"),
    ("status", f.status() | dict(schema=10**30), "bounds"),
    ("metrics", metrics(passers=-3), "bounds"),
    ("metrics", metrics(frames=10**30), "bounds"),
    ("metrics", metrics(dropped_frames=-1), "bounds"),
    ("metrics", metrics(conversion=math.inf), "bounds"),
    ("metrics", metrics(conversion=7.0), "bounds"),
    ("metrics", metrics(attraction=-0.5), "bounds"),
    ("metrics", metrics(passers=4, viewers=10), "inconsistent"),
    ("metrics", metrics(inference_ms={"p50": math.nan, "p95": 1.0}), "bounds"),
    ("metrics", metrics(dwell={"buckets": ["0-1"], "counts": [-1]}), "bounds"),
    ("metrics", metrics(dwell={"buckets": ["0-1", "1-3"], "counts": [1]}), "inconsistent"),
    ("metrics", metrics(distance={"near": -1}), "bounds"),
    ("metrics", metrics(expressions={"happy": 10**30}), "bounds"),
    ("metrics", metrics(impressions={f"c{i}": {"plays": 1, "viewed": None} for i in range(1000)}), "bounds"),
    ("metrics", metrics(impressions={"spring": {"plays": 1, "viewed": 5}}), "inconsistent"),
    ("metrics", metrics(**spanning(RECENT, RECENT - dt.timedelta(minutes=1))), "time"),
    ("error", {"schema": 1, "site": "lab", "device": "a", "topic": "t" * 1000, "error": "no"}, "bounds"),
    ("error", {"schema": 1, "site": "lab", "device": "a", "topic": "signage/lab/a/privacy/set",
               "error": "e" * 10_000}, "bounds"),
]


@pytest.mark.parametrize("kind,body,reason", HOSTILE, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(HOSTILE)])
def test_hostile_values_are_invalid_at_parse_with_a_reason(kind, body, reason):
    problem = refused(kind, body)
    assert problem.reason == reason, str(problem)
    assert len(str(problem)) < 300  # says what is wrong, briefly, without echoing the payload


@pytest.mark.parametrize("topic,payload", [("signage/lab/a/privacy/state", b"ON\x00"),
                                           ("signage/lab/a/creative/state", b"\x1b[2J" + b"x" * 10),
                                           ("signage/lab/a/creative/state", b"x" * 65)])
def test_state_echoes_are_short_and_printable(topic, payload):
    with pytest.raises(Invalid) as caught:
        parse("signage", topic, payload)
    assert caught.value.reason == "value"


@pytest.mark.parametrize("kind,body", [
    ("play", play(**spanning(NOW - dt.timedelta(days=300), NOW - dt.timedelta(days=300, seconds=-10)))),
    ("play", play(**spanning(NOW - dt.timedelta(days=30), NOW), seconds=30 * DAY, looking_seconds=0.0,
                  expressions={})),
    ("play", play(**spanning(NOW + dt.timedelta(minutes=20), NOW + dt.timedelta(minutes=20, seconds=10)))),
    ("metrics", metrics(**spanning(NOW - dt.timedelta(days=200), NOW - dt.timedelta(days=200, seconds=-60)))),
    ("status", f.status(spool_depth=10**8, spool_dropped=10**8, uptime_s=5 * 365 * 86400)),
], ids=["spooled-300-days", "a-30-day-play", "clock-20-min-fast", "metrics-200-days-old", "huge-spool"])
def test_old_but_valid_and_extreme_but_real_messages_are_accepted(kind, body):
    assert accepted(kind, body).kind == kind


def test_the_window_of_time_is_the_receivers_now():
    body = play(**spanning(NOW, NOW + dt.timedelta(seconds=10)))
    assert accepted("play", body, now=NOW).kind == "play"
    with pytest.raises(Invalid):
        accepted("play", body, now=NOW - dt.timedelta(hours=2))  # the receiver's clock decides
    with pytest.raises(Invalid):
        accepted("play", body, now=NOW + dt.timedelta(days=800))


def test_the_largest_status_the_bounds_allow_fits_one_message():
    """Every text at its longest, in the characters JSON escapes the most (the kiosk
    encodes with json.dumps, ASCII only): still under the size the fleet accepts."""
    worst = "\U0001F600"
    fields = Status.model_json_schema(by_alias=True)["properties"]

    def longest(name):
        limit = next((branch.get("maxLength") for branch in [fields[name], *fields[name].get("anyOf", [])]
                      if branch.get("maxLength")), 1)
        return worst * limit

    body = f.status(**{name: longest(name) for name in ("version", "camera", "camera_format", "edgetpu",
                                                        "playlist", "display", "broker", "spool", "last_error")})
    body["problems"] = [worst * fields["problems"]["items"]["maxLength"]] * fields["problems"]["maxItems"]
    payload = json.dumps(body, separators=(",", ":")).encode()
    assert len(payload) <= MAX_MESSAGE_BYTES


# ----- the kiosk's own builders never make what the fleet refuses ---------------------------------------

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
texts = st.text(min_size=0, max_size=20_000)
seconds = st.one_of(st.floats(0, 120 * DAY, allow_nan=False), st.sampled_from([0.0, 30 * DAY, 60 * DAY]))
people = st.integers(0, 10**7)
later = st.floats(0, 200 * DAY)  # how long the message waited in the kiosk's spool


def crowd(present: int, looking: int, seconds: float, looked: float) -> Contributions:
    """`present` people in view `seconds` each, the first `looking` of them looking `looked` s, smiling."""
    who = Contributions(present={track: seconds for track in range(present)})
    for track in range(looking):
        who.looking[track] = looked
        who.expressions.setdefault("happy", {})[track] = looked
    return who


def fleet_accepts(kind: str, message, sent_at: dt.datetime) -> None:
    payload = json.dumps(message.payload(), separators=(",", ":")).encode()  # as the kiosk encodes it
    parse("signage", f"signage/lab/kiosk-1/{kind}", payload, now=sent_at.replace(tzinfo=None))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=seconds, step_back=st.sampled_from([0.0, 0.0, 5.0, 3600.0]), faces=people, looking=people,
       mean=st.floats(0, 1), share=st.floats(0, 1), looked=st.floats(0, 1), creative=ids, rule=ids,
       audience=st.booleans(), ended=st.sampled_from(["duration", "interrupted", "error", "removed", "stopped"]),
       min_group=st.integers(1, 10), waited=later)
def test_every_play_the_kiosk_builds_is_accepted(length, step_back, faces, looking, mean, share, looked,
                                                creative, rule, audience, ended, min_group, waited):
    """A play of up to 120 days, crowds beyond any camera, and a wall clock stepped back
    by NTP mid-play (end before start): clamped by the kiosk, never refused by the fleet."""
    end = NOW
    start = end - dt.timedelta(seconds=length) + dt.timedelta(seconds=step_back)
    peak_looking = min(looking, faces)
    looking_seconds = round(peak_looking * length * looked, 2)
    record = PlayRecord(creative=creative, rule=rule, start=utc_iso(start), end=utc_iso(end), seconds=round(length, 3),
                        ended=ended, peak_faces=faces, mean_faces=round(faces * mean, 3), peak_looking=peak_looking,
                        looking_seconds=looking_seconds,
                        expressions={"happy": round(looking_seconds * share, 2),
                                     "neutral": round(looking_seconds * (1 - share), 2)},
                        audience=audience, people=crowd(min(faces, 50), min(peak_looking, 50), length * mean,
                                                        length * looked))
    fleet_accepts("play", play_message(record, "lab", "kiosk-1", min_group), NOW + dt.timedelta(seconds=waited))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passers=st.integers(0, 3000), dwell=st.floats(0, 30 * DAY), looked=st.floats(0, 1.5),
       creatives=st.lists(ids, max_size=400), dropped=st.integers(0, 10**12), inference=st.floats(0, 10**9),
       length=st.floats(0, 30 * DAY), step_back=st.sampled_from([0.0, 0.0, 3600.0]), waited=later)
def test_every_interval_the_kiosk_aggregates_is_accepted(passers, dwell, looked, creatives, dropped, inference,
                                                         length, step_back, waited):
    """Thousands of passers, an interval of weeks, hundreds of creatives, a dropped-frame
    count beyond any database integer, an inference that took for ever, and an interval
    whose end a clock step put before its start."""
    start = NOW - dt.timedelta(seconds=length)
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=start, t=0.0)
    summaries = tuple(TrackSummary(dwell_s=dwell, looking_s=dwell * looked, expression=EXPRESSIONS[i % 7],
                                   zone=ZONES[i % 3]) for i in range(passers))
    aggregator.add_snapshot(AudienceSnapshot(t=1.0, ended=summaries))
    aggregator.add_snapshot(AudienceSnapshot(t=2.0, times=StageTimes(total=inference)))
    aggregator.add_dropped_frames(dropped)
    for creative in creatives:
        aggregator.add_play(creative, crowd(3, 3, 5.0, 5.0))
    message = aggregator.flush(start + dt.timedelta(seconds=length) - dt.timedelta(seconds=step_back), length)
    fleet_accepts("metrics", message, NOW + dt.timedelta(seconds=waited))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(error="\x00" * 20_000, problems=["\U0001F600" * 20_000] * 50, playlist="\x1b[2J" * 5000, broker="b" * 20_000,
         counts=10**7, huge=10**30, uptime=10.0**12, version="v" * 20_000, creatives=2000)
@given(error=texts, problems=st.lists(texts, max_size=50), playlist=texts, broker=texts, counts=people,
       huge=st.integers(0, 10**30), uptime=st.floats(0, 10**12), version=texts, creatives=st.integers(0, 2000))
def test_every_status_and_refusal_the_kiosk_builds_is_accepted(error, problems, playlist, broker, counts, huge,
                                                               uptime, version, creatives):
    """The kiosk's own status builder (health.status_of, over a kiosk that holds these
    values): a long error text in any characters (controls, NULs, emoji), fifty problems,
    counts and an uptime beyond any database integer, a playlist of thousands of creatives
    with the longest ids."""
    kiosk_problems = Problems()
    for i, text in enumerate(problems):
        kiosk_problems.set(f"topic-{i}", text)
    kiosk_problems.set("playlist", "rejected: " + playlist)
    kiosk_problems.set("vision", error)
    kiosk = SimpleNamespace(
        config=SimpleNamespace(site="lab", device="kiosk-1"), screen=SimpleNamespace(renderer=None, scheduled=None),
        started=0.0, clock=lambda: uptime,
        vision=SimpleNamespace(hardware=lambda: {"camera": version, "edgetpu": "not in use: " + error},
                               camera_state=lambda privacy: "error", faults=huge),
        problems=kiosk_problems, privacy=SimpleNamespace(on=False),
        barrier=SimpleNamespace(total=counts), playlists=SimpleNamespace(faults=huge),
        uplink=SimpleNamespace(retired_faults=huge),
        releases=SimpleNamespace(faults=huge, state=lambda: ContentState(state="refused", version=1, next_version=2,
                                                                         reason=fit(error, MAX_ERROR_CHARS))),
        player=SimpleNamespace(playlist=SimpleNamespace(creatives={f"c{i:063d}": None for i in range(creatives)})))
    health = SimpleNamespace(pump_errors=huge, status_fields=lambda: {
        "broker": broker, "spool": "error: " + error, "spool_depth": huge, "spool_held": counts,
        "spool_dropped": huge})
    fleet_accepts("status", status_of(kiosk, health), NOW)
    fleet_accepts("error", Error.fitted(site="lab", device="kiosk-1", topic="signage/lab/kiosk-1/" + broker,
                                        error=error), NOW)
