"""An NTP step in the middle of a play or a metrics interval: the wall clock jumps (back or
forward), the monotonic one does not. The end of a play and of an interval is its start
plus the monotonic seconds, so `end >= start` always holds and `end - start` is the
time it lasted; the next one starts on the wall clock as it now is."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from signage.audience import AudienceState
from signage.playlist.loader import Playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.fileformat import Creative, PlayItem
from signage.telemetry.metrics import Aggregator, play_message
from signage.wire.messages import Metrics, Play

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
STEPS = st.floats(-40 * 86400, 40 * 86400).filter(lambda s: abs(s) >= 1)  # an RTC-less Pi can be off by weeks


def iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def one_card(seconds: float) -> Playlist:
    card = Creative(id="card", type="card", text="Hello", duration=seconds)
    return Playlist(creatives={"card": card}, media={}, video_seconds={}, default=[PlayItem(creative="card")],
                    default_min_show=0.0, rules=[])


def assert_lasts(start: str, end: str, seconds: float) -> None:
    assert iso(end) >= iso(start)
    assert abs((iso(end) - iso(start)).total_seconds() - seconds) <= 1, "published to the second"


@given(step=STEPS, when=st.floats(0.01, 0.99), seconds=st.floats(1, 3600), ending=st.sampled_from(["duration",
                                                                                                  "stopped"]))
def test_a_play_lasts_its_monotonic_seconds_whatever_the_wall_clock_did(step, when, seconds, ending):
    player = Player(one_card(seconds))
    t0 = 500.0
    assert player.tick(AudienceState(), Now(t0, T0)).action == "start"
    stepped = T0 + dt.timedelta(seconds=step)  # the step, somewhere mid-play
    player.tick(AudienceState(), Now(t0 + when * seconds, stepped + dt.timedelta(seconds=when * seconds)))
    end = Now(t0 + seconds, stepped + dt.timedelta(seconds=seconds))
    if ending == "duration":
        player.tick(AudienceState(), end)
    else:
        player.stop(end)
    record = player.records[0]
    assert record.ended == ending and record.start == "2026-11-23T10:00:00Z"
    assert_lasts(record.start, record.end, record.seconds)
    Play.model_validate(play_message(record, "lab", "kiosk-1", 3).payload())


@given(step=STEPS, seconds=st.floats(1, 3600))
def test_an_interval_lasts_its_monotonic_seconds_and_the_next_follows_the_wall_clock(step, seconds):
    aggregator = Aggregator("lab", "kiosk-1", min_group=3, now=T0, t=100.0)
    now = T0 + dt.timedelta(seconds=seconds + step)  # the wall clock, stepped mid-interval
    message = aggregator.flush(now, 100.0 + seconds).payload()
    Metrics.model_validate(message)
    assert message["start"] == "2026-11-23T10:00:00Z"
    assert_lasts(message["start"], message["end"], seconds)
    following = aggregator.flush(now + dt.timedelta(seconds=60), 160.0 + seconds).payload()
    assert iso(following["start"]) == now.replace(microsecond=0), "the next interval begins on the new wall clock"
    assert_lasts(following["start"], following["end"], 60)
