"""The privacy rule as a property (docs/privacy.md): two audiences that differ only in
fewer than min_group people publish the same records about moments (plays, intervals,
the whole status message, every INFO or higher log line of signage.*, with their times,
including the plays that follow) and the same aggregates for every period with fewer
than min_group passers. They may differ only in aggregates over periods in which at
least min_group people passed. Two cases:

- the few people come in an hour with fewer than min_group passers (a quiet hour);
- they come in an hour that has min_group passers without them (a busy hour). Then no
  play of that hour published one by one changes: the hour comes either whole, one by
  one (the same in both), or in its totals (an aggregate of a busy hour), never partly
  each way, which would leave the slots of the held plays empty in the schedule.

What the kiosk's spool keeps of the plays it holds (telemetry/held.py) has no moment in a
quiet hour: plays and seconds per creative only.

Generated audiences go through the kiosk's counting path (tests/audience_run.py): the
real handoff, counter, ledger, player and rules engine, with a playlist whose audience
rules fire for one person, for a crowd and for nobody, beside a daypart."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signage.telemetry.held import assemble
from tests.audience_run import Visit, playlist_from, run

PLAYLIST = """
creatives:
  - {id: loop-a, type: card, text: A, duration: 10}
  - {id: loop-b, type: card, text: B, duration: 8}
  - {id: loop-c, type: card, text: C, duration: 7}
  - {id: look, type: card, text: Look, duration: 6}
  - {id: look-2, type: card, text: Look again, duration: 5}
  - {id: smile, type: card, text: Smile, duration: 9}
  - {id: crowd, type: card, text: Crowd, duration: 12}
  - {id: idle, type: card, text: Idle, duration: 11}
  - {id: half-past, type: card, text: Half past, duration: 10}
default: [loop-a, loop-b, loop-c]
rules:
  - id: smiles
    priority: 30
    when: {looking: {min: 1}, expression: {dominant: happy, min_share: 0.5}, hold: 2}
    play: smile
    cooldown: 60
  - id: crowd
    priority: 20
    when: {faces: {min: 2}, hold: 1}
    play: crowd
    max_per_hour: 2
  - id: lookers
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: [look, look-2]
    min_show: 2
  - id: nobody
    priority: 5
    when: {faces: {max: 0}, hold: 40}
    play: idle
    cooldown: 120
  - id: half-past
    when: {hours: [{start: "11:30", end: "11:40"}]}
    play: half-past
"""
START = dt.datetime(2026, 11, 23, 10, 58, 30, tzinfo=dt.timezone.utc)
STEP = 3.0  # a snapshot every 3 s: the hours' edges fall on it
HOUR_START, HOUR_END, SECONDS = 90, 3690, 3780  # the hour, 11:00-12:00, in seconds of the run
HOUR = "2026-11-23T11"  # how its plays' and totals' starts begin
MOMENT = ("creative", "rule", "start", "end", "seconds", "ended")  # a play's record of a moment; the rest is
# its figures about people, each published only with min_group contributors (test_contributors.py)
TIMING = ("start", "end")  # what an interval says that is not about people (frames go with its passers)
# Each example is two runs of an hour through the counting path: a fixed set of examples
# (derandomized), so that the suite takes the same time, and the same cases, every time.
SETTINGS = dict(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def playlist(tmp_path_factory):
    return playlist_from(tmp_path_factory.mktemp("property"), PLAYLIST)


def visits(tracks, first: int, last: int, count: tuple[int, int]):
    """People who come and go between run seconds `first` and `last` (on the snapshot grid)."""
    person = st.tuples(st.integers(first // 3, last // 3 - 1), st.integers(1, 40), st.integers(0, 10),
                       st.integers(0, 30), st.sampled_from(["happy", "neutral", "surprise"]))

    def made(drawn):
        out = []
        for track, (enter, stay, look_at, look_for, expression) in zip(tracks, drawn):
            enter, leave = enter * 3, min(last, enter * 3 + stay * 3)
            looks = ((enter + look_at, enter + look_at + look_for),) if look_for else ()
            out.append(Visit(track, enter, leave, looks, expression))
        return out

    return st.lists(person, min_size=count[0], max_size=count[1]).map(made)


@st.composite
def audiences(draw):
    """(min_group, the audience, the few people only the second audience has)."""
    min_group = draw(st.sampled_from([2, 3]))
    before = draw(visits(range(100, 110), 0, HOUR_START - 3, (0, 4)))
    after = draw(visits(range(200, 210), HOUR_END, SECONDS, (0, 4)))
    in_hour = draw(visits(range(300, 310), HOUR_START, HOUR_END - 3, (0, min_group - 2)))
    extra = draw(visits(range(400, 410), HOUR_START, HOUR_END - 3, (1, min_group - 1 - len(in_hour))))
    return min_group, before + in_hour + after, extra


def compared(out: dict, busy_intervals: set, busy_day: bool, busy_hour: bool = False) -> dict:
    """What must be the same: every record about a moment, every aggregate of a quiet
    period. Of an interval with min_group passers (in either run), only its times (its
    frames are published with its passers); the day's totals only if neither run's day had min_group
    passers. With `busy_hour` (the hour had min_group passers in both runs), its totals
    are left out, and its plays published one by one are set apart, by their moment, in
    "busy hour" (see `same_busy_hour`); so are their impressions in the interval that
    published them (the kiosk counts there the plays it published one by one)."""
    messages, hour_plays, pending = [], [], Counter()
    for t, kind, payload in out["messages"]:
        payload = {key: value for key, value in payload.items() if key != "id"}
        in_hour = busy_hour and kind in ("play", "totals") and payload["start"].startswith(HOUR)
        if kind == "play" and in_hour:
            hour_plays.append((t, *(payload[key] for key in MOMENT)))
            pending[payload["creative"]] += 1
            continue
        if kind == "totals" and (in_hour and payload["period"] == "hour" or payload["period"] == "day" and busy_day):
            continue
        if kind == "metrics":
            if payload["start"] in busy_intervals:
                payload = {key: payload[key] for key in TIMING}
            else:
                payload["impressions"] = without_plays(payload["impressions"], pending)
            pending = Counter()
        messages.append((t, kind, payload))
    hour_totals = [payload for _, kind, payload in out["messages"] if kind == "totals"
                   and payload["period"] == "hour" and payload["start"].startswith(HOUR)]
    assert not (hour_plays and hour_totals), "an hour comes one by one or in its totals, never partly each way"
    return {"messages": messages, "playing": out["playing"], "log": out["log"], "busy hour": hour_plays}


def without_plays(impressions: dict, plays: Counter) -> dict:
    out = {creative: {**counts, "plays": counts["plays"] - plays[creative]} for creative, counts in impressions.items()}
    return {creative: counts for creative, counts in out.items() if counts["plays"]}


def same_busy_hour(with_them: dict, without: dict) -> None:
    """The busy hour's plays published one by one: the same, where both runs have them.
    (That an hour came in its totals is an aggregate of a period with min_group passers.)"""
    mine, theirs = with_them.pop("busy hour"), without.pop("busy hour")
    if mine and theirs:
        assert mine == theirs


def moments_kept_in_quiet_hours(out: dict, min_group: int) -> list:
    """Plays the spool would keep one by one (with their times) for an hour with fewer
    than min_group passers so far: none may be."""
    found = []
    for t, rows in out["held"]:
        for hour in assemble(rows)["hours"]:
            if hour.get("passers", 0) < min_group and hour.get("plays"):
                found.append((t, hour["start"], hour["plays"]))
    return found


def published_passers(out: dict) -> set:
    return {payload["start"] for _, kind, payload in out["messages"] if kind == "metrics"
            and payload["passers"] is not None}


@settings(max_examples=15, **SETTINGS)
@given(audiences())
def test_fewer_than_min_group_people_in_a_quiet_hour_change_nothing_published_about_a_moment(playlist, drawn):
    min_group, audience, extra = drawn
    in_hour = {v.track for v in audience + extra if HOUR_START <= v.enter < HOUR_END}
    assert len(in_hour) < min_group, "the premise: a quiet hour"
    without = run(playlist, audience, SECONDS, min_group=min_group, step=STEP, start=START, interval=600)
    with_them = run(playlist, audience + extra, SECONDS, min_group=min_group, step=STEP, start=START, interval=600)
    busy_intervals = published_passers(without) | published_passers(with_them)
    busy_day = len(audience) + len(extra) >= min_group
    assert compared(with_them, busy_intervals, busy_day) == compared(without, busy_intervals, busy_day)
    assert with_them["held"] and not moments_kept_in_quiet_hours(with_them, min_group)
    assert not moments_kept_in_quiet_hours(without, min_group)


@st.composite
def busy_audiences(draw):
    """(min_group, an audience with min_group or more passers in the hour, the few people
    only the second audience has, in that hour)."""
    min_group = draw(st.sampled_from([2, 3]))
    before = draw(visits(range(100, 110), 0, HOUR_START - 3, (0, 3)))
    after = draw(visits(range(200, 210), HOUR_END, SECONDS, (0, 3)))
    in_hour = draw(visits(range(300, 310), HOUR_START, HOUR_END - 3, (min_group, min_group + 2)))
    extra = draw(visits(range(400, 410), HOUR_START, HOUR_END - 3, (1, min_group - 1)))
    return min_group, before + in_hour + after, extra


@settings(max_examples=10, **SETTINGS)
@given(busy_audiences())
def test_fewer_than_min_group_people_in_a_busy_hour_change_no_play_published_one_by_one(playlist, drawn):
    min_group, audience, extra = drawn
    without = run(playlist, audience, SECONDS, min_group=min_group, step=STEP, start=START, interval=600)
    with_them = run(playlist, audience + extra, SECONDS, min_group=min_group, step=STEP, start=START, interval=600)
    busy_intervals = published_passers(without) | published_passers(with_them)
    mine, theirs = (compared(out, busy_intervals, busy_day=True, busy_hour=True) for out in (with_them, without))
    same_busy_hour(mine, theirs)
    assert mine == theirs
