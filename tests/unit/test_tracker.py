from hypothesis import given, settings
from hypothesis import strategies as st

from signage.vision.tracker import Observation, Tracker, TrackerConfig, _TrackNumbers

HAPPY = (0, 0, 0, 1.0, 0, 0, 0)
SAD = (0, 0, 0, 0, 1.0, 0, 0)


def obs(x=0.4, score=0.9, looking=True, expressions=HAPPY, zone="mid"):
    return Observation(box=(x, 0.3, 0.1, 0.18), score=score, looking=looking, expressions=expressions, zone=zone)


def run(tracker, frames, fps=25.0, start=0.0):
    ended, verdicts = [], []
    for i, observations in enumerate(frames):
        tracked, done = tracker.update(observations, start + i / fps)
        verdicts.append(tracked)
        ended += done
    return verdicts, ended


def test_confirmed_after_three_consecutive_hits():
    verdicts, _ = run(Tracker(), [[obs()]] * 4)
    assert [v[0].track is not None for v in verdicts] == [False, False, True, True]
    assert verdicts[2][0].track == verdicts[3][0].track


def test_single_frame_false_positives_never_count():
    tracker = Tracker()
    frames = [[obs(x=0.1 * (i % 8))] if i % 2 == 0 else [] for i in range(40)]
    verdicts, ended = run(tracker, frames)
    assert all(v.track is None for frame in verdicts for v in frame)
    assert ended == [] and tracker.flush() == []


def test_weak_detections_keep_a_track_but_cannot_start_one():
    weak = [[obs(score=0.6)]] * 10
    _, ended = run(Tracker(), weak)
    assert ended == [] and Tracker().flush() == []
    tracker = Tracker()
    verdicts, _ = run(tracker, [[obs(score=0.9)]] * 3 + [[obs(score=0.55)]] * 5)
    assert len({v[0].track for v in verdicts[2:]}) == 1 and verdicts[-1][0].track is not None


def test_gaps_up_to_max_gap_keep_the_track():
    tracker = Tracker(TrackerConfig(max_gap_s=0.7))
    frames = [[obs()]] * 5 + [[]] * 15 + [[obs()]] * 5  # 0.6 s gap at 25 fps
    verdicts, ended = run(tracker, frames)
    assert ended == []
    assert verdicts[4][0].track == verdicts[20][0].track


def test_a_long_gap_ends_the_track_with_a_summary():
    tracker = Tracker(TrackerConfig(max_gap_s=0.7))
    frames = [[obs(looking=True)]] * 50 + [[]] * 20  # 2 s of looking, then gone
    _, ended = run(tracker, frames)
    assert len(ended) == 1
    summary = ended[0]
    assert abs(summary.dwell_s - 49 / 25) < 1e-9 and abs(summary.looking_s - 49 / 25) < 1e-9
    assert summary.viewer and summary.expression == "happy" and summary.zone == "mid"


def test_expression_is_smoothed_over_the_track():
    tracker = Tracker()
    frames = [[obs(expressions=HAPPY)]] * 20 + [[obs(expressions=SAD)]]
    verdicts, _ = run(tracker, frames)
    assert verdicts[-1][0].expression == "happy"  # one sad frame does not flip it


def test_two_people_keep_their_own_tracks():
    tracker = Tracker()
    frames = [[obs(x=0.1 + i * 0.002), obs(x=0.7 - i * 0.002)] for i in range(30)]
    verdicts, _ = run(tracker, frames)
    assert verdicts[-1][0].track != verdicts[-1][1].track
    assert {verdicts[5][0].track, verdicts[5][1].track} == {verdicts[-1][0].track, verdicts[-1][1].track}


def test_flush_ends_every_confirmed_track():
    tracker = Tracker()
    run(tracker, [[obs(x=0.1), obs(x=0.7)]] * 5)
    assert len(tracker.flush()) == 2 and tracker.flush() == []


@settings(max_examples=20)
@given(st.integers(1, 5000))
def test_track_numbers_are_never_reused(count):
    numbers = _TrackNumbers()
    seen = [numbers.next() for _ in range(count)]
    assert len(set(seen)) == count
    assert all(0 <= n < 2**63 for n in seen)
