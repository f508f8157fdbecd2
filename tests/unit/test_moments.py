"""Records about moments: a play an audience rule chose for fewer than min_group people,
the end of the play it cut short and the gap it would leave in the schedule are records
of the moment someone was there. The kiosk holds them and releases them per creative for
the smallest period in which min_group people passed (docs/privacy.md)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from signage.audience import AudienceState, Person, Sample
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.telemetry.ledger import Ledger
from signage.wire.messages import Play, PlayTotals
from tests.audience_run import LOOKERS, T0, Visit, playlist_from, run

HOUR_10 = 600.0  # T0 is 09:50: the run's second 600 is 10:00


@pytest.fixture
def lookers(tmp_path):
    return playlist_from(tmp_path / "lookers", LOOKERS)


def kinds(out, kind):
    return [payload for _, k, payload in out["messages"] if k == kind]


def one_at_a_time(count, first=HOUR_10 + 100.0, every=300.0, track=1):
    """`count` people, one at a time, each looking for 5 s: one look play each."""
    return [Visit(track + n, first + n * every, first + n * every + 20, ((first + n * every + 2,
                                                                          first + n * every + 7),), "happy")
            for n in range(count)]


def test_one_person_in_an_hour_is_no_record_of_a_moment_the_day_has_only_seconds(lookers):
    """One person looks at 10:05. Today: a play record 'audience' at 10:05:03 and the
    default play it cut short, ending then. Now nothing about that hour is published but
    its seconds, at the day's end, under 'audience' (one passer all day)."""
    out = run(lookers, one_at_a_time(1), 2 * 3600 - 600)
    assert not kinds(out, "play"), "no play of an hour with one passer is published on its own"
    [totals] = kinds(out, "totals")
    PlayTotals.model_validate(totals)
    assert totals["period"] == "day" and totals["creatives"] == {"audience": {"plays": None, "seconds": 6600.0}}
    statuses = [creative for _, creative in out["playing"]]
    assert "look" not in statuses


def test_one_person_at_a_time_every_play_is_attributed_at_day_level(lookers):
    """The issue's sample: one person at a time. Each hour has two passers, the day
    eight: the hours release nothing, the day every play, per creative, none as
    'audience'; with the seconds, all the time on screen."""
    out = run(lookers, one_at_a_time(8, every=1800.0), 5 * 3600, step=2.0)
    assert not kinds(out, "play")
    [totals] = kinds(out, "totals")
    PlayTotals.model_validate(totals)
    assert totals["period"] == "day" and set(totals["creatives"]) == {"loop-a", "loop-b", "look"}
    assert totals["creatives"]["look"]["plays"] == 8
    assert sum(item["seconds"] for item in totals["creatives"].values()) == pytest.approx(5 * 3600)


def test_an_hour_with_enough_passers_and_an_audience_play_comes_whole_in_its_totals(lookers):
    """Three people pass between 10:00 and 11:00, one at a time, each looking: the look
    plays, the schedule plays they cut short or resumed and every other play of the hour
    are released per creative for the hour, none one by one (a play held back would
    leave its slot empty in the published schedule)."""
    out = run(lookers, one_at_a_time(3, every=600.0), 3 * 3600, step=2.0)
    plays, totals = kinds(out, "play"), kinds(out, "totals")
    assert not [p for p in plays if "2026-11-23T10:00:00Z" <= p["start"] < "2026-11-23T11:00:00Z"]
    [by_hour] = [t for t in totals if t["period"] == "hour"]
    PlayTotals.model_validate(by_hour)
    assert by_hour["start"] == "2026-11-23T10:00:00Z" and by_hour["end"] == "2026-11-23T11:00:00Z"
    assert by_hour["creatives"]["look"] == {"plays": 3, "seconds": 18.0}
    assert set(by_hour["creatives"]) == {"loop-a", "loop-b", "look"}
    assert sum(item["seconds"] for item in by_hour["creatives"].values()) == pytest.approx(3600.0), \
        "every second of the hour is attributed once"
    for payload in plays:
        Play.model_validate(payload)


def test_one_looker_in_a_busy_hour_leaves_no_gap_in_the_published_schedule(lookers):
    """The reviewer's reproduction: three people pass at 10:01-10:03 and nobody looks; the
    hour publishes its schedule one by one. One more person looks at 10:30:02. Before, the
    published plays lost loop-a 10:30:00 and loop-b 10:30:10, telling when that one person
    looked. Now the hour either comes whole, one by one, as the schedule played it, or
    not at all one by one: here it comes in its totals."""
    passers = [Visit(n, HOUR_10 + 60 * n, HOUR_10 + 60 * n + 20) for n in range(1, 4)]
    lone = [Visit(99, HOUR_10 + 1800, HOUR_10 + 1820, ((HOUR_10 + 1802, HOUR_10 + 1810),), "happy")]

    def hour_10(out):
        return [(p["creative"], p["start"], p["seconds"]) for p in kinds(out, "play")
                if "2026-11-23T10:00:00Z" <= p["start"] < "2026-11-23T11:00:00Z"]

    without, with_one = run(lookers, passers, 3 * 3600), run(lookers, passers + lone, 3 * 3600)
    assert len(hour_10(without)) == 360 and ("loop-a", "2026-11-23T10:30:00Z", 10.0) in hour_10(without)
    assert not [t for t in kinds(without, "totals") if t["period"] == "hour"]
    assert hour_10(with_one) == [], "no play of that hour one by one: no slot can be missing"
    [by_hour] = [t for t in kinds(with_one, "totals") if t["period"] == "hour"]
    assert by_hour["creatives"]["look"]["plays"] >= 1
    assert sum(item["seconds"] for item in by_hour["creatives"].values()) == pytest.approx(3600.0)


def test_the_schedule_keeps_its_times_whatever_the_audience_does(lookers):
    """An audience play over the default loop: when it ends, the loop's creative of that
    moment plays for what is left of it, and every later play starts when it would
    have without anyone there (a gap would be a record of the moment)."""
    def schedule(people):
        player, state = Player(lookers), AudienceState()
        for n in range(0, 200):
            t = n * 0.5
            sample = Sample(t=t, faces=people(t), looking=people(t),
                            people=tuple(Person(1, True, "happy") for _ in range(people(t))))
            state = state.update(sample)
            player.tick(state, Now(t, T0 + dt.timedelta(seconds=t)))
        player.stop(Now(100.0, T0 + dt.timedelta(seconds=100)))
        return player.take_records()

    alone = schedule(lambda t: 0)
    seen = schedule(lambda t: int(21 <= t < 23))
    assert [(r.creative, r.start) for r in seen if r.audience] == [("look", "2026-11-23T09:50:22Z")]
    cut, resumed = [r for r in seen if r.touched and not r.audience]
    assert (cut.creative, cut.start, cut.ended, cut.seconds) == ("loop-a", "2026-11-23T09:50:20Z", "interrupted", 2.0)
    assert (resumed.creative, resumed.start, resumed.ended, resumed.seconds) == \
        ("loop-a", "2026-11-23T09:50:28Z", "duration", 2.0), "what was left of it"
    later = [(r.creative, r.start, r.seconds) for r in seen if r.start >= "2026-11-23T09:50:30Z"]
    assert later == [(r.creative, r.start, r.seconds) for r in alone if r.start >= "2026-11-23T09:50:30Z"]
    assert len(later) == 7


def test_an_audience_play_never_runs_past_the_top_of_the_hour(lookers):
    """Someone looks at 10:59:57: the look creative (6 s) would run past 11:00, where the
    hour's proof of play is cut; it waits, and fires in the new hour."""
    looks = [Visit(1, HOUR_10 + 3590, HOUR_10 + 3620, ((HOUR_10 + 3595, HOUR_10 + 3620),))]
    player, state = Player(lookers), AudienceState()
    starts = []
    for n in range(int((HOUR_10 + 3630) / 0.5)):
        t = n * 0.5
        here = [v for v in looks if v.enter <= t < v.leave and v.looking(t)]
        state = state.update(Sample(t=t, faces=len(here), looking=len(here),
                                    people=tuple(Person(v.track, True, "happy") for v in here)))
        decision = player.tick(state, Now(t, T0 + dt.timedelta(seconds=t)))
        if decision.action == "start" and decision.creative == "look":
            starts.append(t)
    assert starts and starts[0] >= HOUR_10 + 3600, "not before the top of the hour"
    assert starts[0] - (HOUR_10 + 3600) >= 1.0, "and its hold starts afresh at the top of the hour"


def test_no_info_line_tells_when_an_audience_rule_fired(lookers, caplog):
    """The journal on the kiosk's disk said 'rule someone-looking: looking >= 1' with the
    time. Audience plays are logged at DEBUG only; the schedule's plays at INFO, at
    moments no audience sets."""
    with caplog.at_level(logging.INFO, logger="signage"):
        out = run(lookers, one_at_a_time(1), 1200)
    info = [line for _, _, line in out["log"]]
    assert info and not any("look" in line and "loop" not in line for line in info)
    assert not any("looking >=" in record.getMessage() for record in caplog.records
                   if record.levelno >= logging.INFO)


def test_with_the_camera_off_plays_are_published_as_they_end(lookers):
    """The privacy schedule turns the camera off at 10:30: no audience can change what
    plays then, and the plays that end meanwhile are published at once, even with audience
    rules in the playlist; before, they are held until the hour is over."""
    off = HOUR_10 + 1800
    passers = [Visit(n, HOUR_10 + 100 * n, HOUR_10 + 100 * n + 20) for n in range(1, 4)]  # the hour is not quiet
    out = run(lookers, passers, 3600, watching=lambda t: t < off)
    sent = [(t, payload) for t, kind, payload in out["messages"] if kind == "play"]
    live = [(t, p) for t, p in sent if t > off]
    assert live and all(p["end"] <= (T0 + dt.timedelta(seconds=t)).isoformat().replace("+00:00", "Z")
                        for t, p in live), "published as they end"
    def hour_over(play):  # run seconds at the end of the play's hour
        start = dt.datetime.fromisoformat(play["start"].replace("Z", "+00:00"))
        return (start.replace(minute=0, second=0) + dt.timedelta(hours=1) - T0).total_seconds()

    held = [(t, p) for t, p in sent if p["end"] < "2026-11-23T10:20:00Z"]
    assert held and all(t >= min(hour_over(p), 3600) for t, p in held), "with the camera on: held to the hour's end"


def test_a_min_group_of_one_holds_nothing(lookers):
    """min_group 1: no record can be about fewer people; plays are published as they end,
    an audience play under its names."""
    out = run(lookers, one_at_a_time(1), 1200, min_group=1)
    plays = [(t, p) for t, kind, p in out["messages"] if kind == "play"]
    assert "look" in {p["creative"] for _, p in plays} and not [1 for _, kind, _ in out["messages"]
                                                                  if kind == "totals"]
    assert all(t < 1200 for t, p in plays if p["creative"] == "look"), "as it ended, not at the stop"


def test_a_ledger_releases_an_hour_after_its_longest_play():
    ledger = Ledger(3)
    ledger.saw([1, 2, 3], dt.datetime(2026, 11, 23, 10, 5))
    assert ledger.due(dt.datetime(2026, 11, 23, 11, 0, 5), grace=20.0) == []
    assert ledger.due(dt.datetime(2026, 11, 23, 11, 0, 20), grace=20.0) == [], "nothing held: nothing to say"
