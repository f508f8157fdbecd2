"""The rules engine: priorities, holds, interrupts, cooldowns, caps, dayparts."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signage.audience import EXPRESSIONS, AudienceState, Sample
from signage.display.videoinfo import video_length
from signage.playlist.loader import load_playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.simulate import Moment, Scenario, simulate

MONDAY_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
MONDAY_15 = MONDAY_9.replace(hour=15)

PLAYLIST = """
creatives:
  - {id: loop-a, type: card, text: A, duration: 10}
  - {id: loop-b, type: card, text: B, duration: 10}
  - {id: look, type: card, text: Look, duration: 6}
  - {id: smile, type: card, text: Smile, duration: 6}
  - {id: crowd, type: card, text: Crowd, duration: 8}
  - {id: morning, type: card, text: Morning, duration: 7}
  - {id: promo-1, type: card, text: P1, duration: 5}
  - {id: promo-2, type: card, text: P2, duration: 5}
default: [loop-a, loop-b]
rules:
  - id: lookers
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: look
    min_show: 2
  - id: smiles
    priority: 30
    when: {looking: {min: 1}, expression: {dominant: happy, min_share: 0.5}, hold: 2}
    play: smile
    cooldown: 60
  - id: crowd
    priority: 20
    when: {faces: {min: 3}, hold: 1}
    play: crowd
    max_per_hour: 3
  - id: mornings
    when: {days: [mon, tue, wed, thu, fri], hours: [{start: "08:00", end: "10:00"}]}
    play: morning
  - id: promos
    priority: -5
    when: {hours: [{start: "12:00", end: "13:00"}]}
    play: [{creative: promo-1, weight: 3}, {creative: promo-2, weight: 1}]
    order: random
"""


@pytest.fixture(scope="module")
def playlist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("playlist")
    (folder / "rules.yaml").write_text(textwrap.dedent(PLAYLIST))
    return load_playlist([folder], base=folder, video_length=video_length)


def happy(n):
    return tuple(1.0 if e == "happy" else 0.0 for e in EXPRESSIONS)


def neutral():
    return tuple(1.0 if e == "neutral" else 0.0 for e in EXPRESSIONS)


class Run:
    """Drive a Player second by second with a scripted audience."""

    def __init__(self, playlist, start=MONDAY_15, seed=0):
        self.player = Player(playlist, seed=seed)
        self.state = AudienceState()
        self.start = start
        self.t = 0.0
        self.log = []

    def step(self, seconds, faces=0, looking=0, shares=None, dt_=0.25):
        end = self.t + seconds
        while self.t < end - 1e-9:
            sample = Sample(t=self.t, faces=faces, looking=looking,
                            shares=shares or (0.0,) * len(EXPRESSIONS))
            self.state = self.state.update(sample)
            decision = self.player.tick(self.state, Now(self.t, self.start + dt.timedelta(seconds=self.t)))
            if decision.action == "start":
                self.log.append((round(self.t, 2), decision.creative, decision.rule))
            self.t += dt_
        return self

    def playing(self):
        return self.player.current.play.creative


def test_default_loop_in_order_when_nobody_is_there(playlist):
    run = Run(playlist).step(35)
    assert [c for _, c, _ in run.log] == ["loop-a", "loop-b", "loop-a", "loop-b"]
    assert [t for t, _, _ in run.log] == [0, 10, 20, 30]


def test_a_viewer_interrupts_the_default_loop_after_the_hold(playlist):
    run = Run(playlist).step(3).step(5, faces=1, looking=1, shares=neutral())
    assert run.log[1] == (4.0, "look", "lookers")  # looking from 3.0 s, held 1 s


def test_a_flicker_shorter_than_the_hold_changes_nothing(playlist):
    run = Run(playlist).step(3).step(0.75, faces=1, looking=1).step(5)
    assert [c for _, c, _ in run.log] == ["loop-a"]


def test_an_audience_creative_is_not_cut_when_its_condition_flickers(playlist):
    run = Run(playlist).step(2, faces=1, looking=1).step(1).step(10)
    starts = [(t, c) for t, c, _ in run.log]
    assert (1.0, "look") in starts
    assert next(t for t, c in starts if t > 1.0) == 7.0  # look played its 6 s


def test_higher_priority_audience_rule_interrupts_after_min_show(playlist):
    run = Run(playlist).step(1.5, faces=1, looking=1, shares=neutral())
    run.step(10, faces=1, looking=1, shares=happy(1))
    # look starts at 1.0; smiles holds from 1.5 for 2 s = 3.5; look's min_show is 2 s -> 3.5
    assert run.log[1][1:] == ("look", "lookers") and run.log[2] == (3.5, "smile", "smiles")


def test_lower_priority_rule_waits_for_the_boundary(playlist):
    run = Run(playlist).step(2, faces=4, looking=0).step(10, faces=1, looking=1)
    creatives = [c for _, c, _ in run.log]
    assert creatives[:3] == ["loop-a", "crowd", "look"]
    assert run.log[2][0] == pytest.approx(1.0 + 8.0)  # crowd played its full 8 s


def test_cooldown_keeps_a_creative_off_screen(playlist):
    run = Run(playlist).step(40, faces=1, looking=1, shares=happy(1))
    smiles = [t for t, c, _ in run.log if c == "smile"]
    assert len(smiles) == 1  # cooldown 60 s: the viewer sees the look creative in between
    assert "look" in [c for _, c, _ in run.log]


def test_max_per_hour_caps_a_rule(playlist):
    run = Run(playlist).step(600, faces=4)
    assert [c for _, c, _ in run.log].count("crowd") == 3


def test_daypart_replaces_the_default_loop_at_the_boundary(playlist):
    run = Run(playlist, start=MONDAY_9.replace(hour=7, minute=59, second=55)).step(30)
    assert [c for _, c, _ in run.log] == ["loop-a", "morning", "morning", "morning"]
    assert run.log[1][0] == 10.0


def test_dayparts_respect_days_of_the_week(playlist):
    saturday = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.timezone.utc)
    run = Run(playlist, start=saturday).step(25)
    assert "morning" not in [c for _, c, _ in run.log]


def test_weighted_random_is_deterministic_per_seed(playlist):
    noon = MONDAY_9.replace(hour=12)
    first = Run(playlist, start=noon, seed=7).step(600).log
    again = Run(playlist, start=noon, seed=7).step(600).log
    other = Run(playlist, start=noon, seed=8).step(600).log
    assert first == again and first != other
    counts = [c for _, c, _ in first]
    assert counts.count("promo-1") > counts.count("promo-2") > 0


def test_decision_explains_why_other_rules_did_not_match(playlist):
    player = Player(playlist)
    state = AudienceState().update(Sample(t=0.0, faces=1, looking=0))
    decision = player.tick(state, Now(0.0, MONDAY_9.replace(hour=15)))
    why = dict(decision.rejected)
    assert decision.rule == "default" and decision.creative == "loop-a"
    assert why["lookers"] == "looking is 0, needs >= 1"
    assert why["crowd"] == "faces is 1, needs >= 3"
    assert why["mornings"] == "15:00 is outside 08:00-10:00"
    assert why["smiles"].startswith("looking is 0")


def test_proof_of_play_records_the_audience(playlist):
    run = Run(playlist).step(2).step(10, faces=2, looking=1, shares=happy(1))
    run.player.stop(Now(run.t, run.start + dt.timedelta(seconds=run.t)))
    records = run.player.records
    first = records[0]
    assert (first.creative, first.rule, first.ended) == ("loop-a", "default", "interrupted")
    assert first.peak_faces == 2 and first.peak_looking == 1
    look = next(r for r in records if r.creative == "look")
    assert look.ended in ("duration", "interrupted", "stopped")
    assert look.looking_seconds > 0 and set(look.expressions) <= {"happy"}
    assert all(r.start.endswith("Z") and r.end >= r.start for r in records)


def test_a_failed_creative_is_skipped_until_the_playlist_changes(playlist):
    run = Run(playlist).step(1)
    run.player.finished(Now(run.t, run.start + dt.timedelta(seconds=run.t)), reason="error")  # loop-a failed to load
    run.step(40)
    later = [c for t, c, _ in run.log if t > 1]
    assert later and set(later) == {"loop-b"}
    assert run.player.records[0].ended == "error"


SHARED = """
creatives:
  - {id: loop-a, type: card, text: A, duration: 10}
  - {id: loop-b, type: card, text: B, duration: 10}
default: [loop-a, loop-b]
rules:
  - id: lookers
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: loop-b
"""


def test_a_creative_an_audience_play_found_broken_changes_nothing_the_schedule_plays(tmp_path):
    """An audience rule picks loop-b, which fails: the audience rules skip it from then
    on, but the schedule plays on as if nobody were there (it tries loop-b at 10 s and
    finds out itself): a default loop that skipped it would tell when someone looked."""
    (tmp_path / "shared.yaml").write_text(textwrap.dedent(SHARED))
    playlist = load_playlist([tmp_path], base=tmp_path, video_length=video_length)
    run = Run(playlist).step(3).step(2, faces=1, looking=1)
    assert run.log[-1] == (4.0, "loop-b", "lookers")
    run.player.finished(Now(run.t, run.start + dt.timedelta(seconds=run.t)), reason="error")
    run.step(4, faces=1, looking=1).step(20)
    assert [entry for entry in run.log if entry[2] == "lookers"] == [(4.0, "loop-b", "lookers")], "skipped"
    assert (10.0, "loop-b", "default") in run.log and (20.0, "loop-a", "default") in run.log


# Property-based: long random audience timelines through the demo-like playlist.

moments = st.lists(
    st.tuples(st.floats(0.2, 40), st.integers(0, 5), st.integers(0, 5), st.sampled_from(EXPRESSIONS)),
    min_size=1, max_size=40)


def scenario_of(steps, start_hour):
    timeline, t = [], 0.0
    for length, faces, looking, expression in steps:
        looking = min(looking, faces)
        timeline.append(Moment(at=t, faces=faces, looking=looking, expression=expression if looking else None))
        t += length
    return Scenario(start=MONDAY_9.replace(hour=start_hour), duration=t + 30, timeline=timeline)


def audience_at(scenario, t):
    current = scenario.timeline[0]
    for moment in scenario.timeline:
        if moment.at <= t + 1e-9:
            current = moment
    return current


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moments, st.integers(0, 23), st.integers(0, 3))
def test_invariants_hold_over_random_timelines(playlist, steps, start_hour, seed):
    scenario = scenario_of(steps, start_hour)
    switches, records = simulate(playlist, scenario, seed=seed)
    assert switches and switches[0].at == 0, "a decision always exists"
    assert all(s.creative in playlist.creatives for s in switches)
    assert (switches, records) == simulate(playlist, scenario, seed=seed), "same seed, same schedule"

    rules = {r.id: r for r in playlist.rules}
    by_rule: dict[str, list] = {}
    for switch in switches:
        by_rule.setdefault(switch.rule, []).append(switch)
        if switch.rule in ("lookers", "smiles", "crowd"):
            # the audience condition held for the rule's hold before the switch
            when = rules[switch.rule].when
            held_from = switch.at - when.hold
            for probe in (held_from + 1e-6, switch.at):
                moment = audience_at(scenario, probe)
                if switch.rule == "crowd":
                    assert moment.faces >= 3
                else:
                    assert moment.looking >= 1
        if switch.rule == "mornings":
            local = scenario.start + dt.timedelta(seconds=switch.at)
            assert local.weekday() < 5 and 8 <= local.hour < 10
        if switch.rule == "promos":
            assert (scenario.start + dt.timedelta(seconds=switch.at)).hour == 12

    def hour(at):  # audience rules start afresh at the top of each hour
        return (scenario.start + dt.timedelta(seconds=at)).replace(minute=0, second=0, microsecond=0)

    smiles = [s.at for s in by_rule.get("smiles", [])]
    assert all(b - a >= 60 for a, b in zip(smiles, smiles[1:]) if hour(a) == hour(b)), "cooldown"
    crowd = [s.at for s in by_rule.get("crowd", [])]
    assert all(sum(1 for at in crowd if hour(at) == hour(first)) <= 3 for first in crowd), "max_per_hour"
    for switch in switches:
        if switch.rule in ("lookers", "smiles", "crowd"):
            ends = switch.at + playlist.seconds(switch.creative)
            assert hour(ends - 1e-6) == hour(switch.at), "an audience play ends inside its hour"

    for record in records:
        creative = playlist.creatives[record.creative]
        if record.ended == "duration" and not record.touched:
            assert record.seconds == pytest.approx(creative.seconds, abs=1e-6)
        if record.ended == "duration" and record.touched:
            assert record.seconds <= creative.seconds + 1e-6, "what was left of it after an audience play"
