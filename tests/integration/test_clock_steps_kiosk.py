"""A real kiosk whose wall clock steps back an hour, then forward two, mid-play and
mid-interval (NTP on a Pi without a real-time clock): every proof of play and every
metrics interval it publishes still ends at or after its start, and lasts what the
monotonic clock measured."""

from __future__ import annotations

import datetime as dt

from signage.kiosk.app import Kiosk
from signage.wire.messages import Metrics, Play
from tests.kiosk import make_config, run_with, wait_for
from tests.subscriber import Subscriber


class SteppingWall:
    """The local wall clock, plus whatever the test steps it by."""

    def __init__(self):
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now().astimezone() + self.offset


def iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_plays_and_intervals_survive_a_wall_clock_step(xvfb, broker, tmp_path, models_dir, samples):
    config, path = make_config(tmp_path, broker.url, mqtt=f"{{url: '{broker.url}', interval: 1, keepalive: 5}}",
                               privacy="{start_in_privacy: true}")  # the camera off: the idle loop, 3 s plays
    wall = SteppingWall()
    kiosk = Kiosk(config, config_path=path, wall=wall)
    subscriber = Subscriber(broker.url, "signage/lab/faults/#")

    def plays():
        return [m.json() for m in subscriber.on("/play")]

    def script(_):
        for step in (dt.timedelta(hours=-1), dt.timedelta(hours=2)):
            seen = len(plays())
            wait_for(lambda n=seen: len(plays()) > n, "a play published")
            wall.offset += step  # mid-play: the idle creatives play back to back
        seen = len(plays())
        wait_for(lambda: len(plays()) >= seen + 2, "two more plays published")

    try:
        run_with(kiosk, script)
        wait_for(lambda: any(p["ended"] == "stopped" for p in plays()), "the last play, stopped")
        played = [Play.model_validate(payload) for payload in plays()]
        intervals = [Metrics.model_validate(m.json()) for m in subscriber.on("/metrics")]
    finally:
        subscriber.close()
    assert len(played) >= 4 and len(intervals) >= 4
    for play in played:
        assert iso(play.end) >= iso(play.start), play
        assert abs((iso(play.end) - iso(play.start)).total_seconds() - play.seconds) <= 1, play
    for interval in intervals:
        assert iso(interval.end) >= iso(interval.start), interval
        assert (iso(interval.end) - iso(interval.start)).total_seconds() < 600, "no hour gained or lost"
    starts = [iso(play.start) for play in played]
    assert any(later < earlier for earlier, later in zip(starts, starts[1:])), "the clock did step back"
