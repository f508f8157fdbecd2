"""An audience rule picks a creative whose file broke after the playlist loaded, in a real
window (Xvfb): the creative is skipped at once and the screen stays lit, but status and
the journal learn of it only when its hour is released, never at the moment someone
looked (docs/privacy.md, records about moments)."""

from __future__ import annotations

import datetime as dt
import logging
import time

from signage.audience import AudienceState, Sample
from signage.config import DisplayConfig, NoticeConfig
from signage.kiosk.creative_faults import CreativeFaults
from signage.kiosk.problems import Problems
from signage.kiosk.screen import Screen
from signage.playlist.player import Player
from signage.playlist.rules import Now
from tests.audience_run import playlist_from
from tests.support.renderers import FALLBACK, H, W, image

PLAYLIST = """
creatives:
  - {id: loop-a, type: card, text: A, duration: 60}
  - {id: smile-back, type: image, media: smile.png, duration: 6}
default: [loop-a]
rules:
  - id: lookers
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: smile-back
"""
T0 = dt.datetime(2026, 11, 23, 10, 5, tzinfo=dt.timezone.utc)


def test_a_broken_audience_creative_is_skipped_at_once_and_reported_with_its_hour(xvfb, tmp_path, caplog):
    folder = tmp_path / "playlists"
    folder.mkdir()
    image(folder, "smile.png", 64, 64, (0, 0, 255))
    playlist = playlist_from(folder, PLAYLIST)
    (folder / "smile.png").write_text("no longer an image")  # replaced after the playlist loaded
    wall = {"now": T0}
    problems, player = Problems(), Player(playlist)
    faults = CreativeFaults(problems, 3, lambda: wall["now"])
    began = time.monotonic()

    def now() -> Now:
        return Now(time.monotonic() - began, wall["now"] + dt.timedelta(seconds=time.monotonic() - began))

    screen = Screen(player, faults, time.monotonic, now, lambda: wall["now"])
    screen.open(DisplayConfig(fullscreen=False, size=(W, H), fallback=FALLBACK, notice=NoticeConfig(enabled=False)))
    shown, state = [], AudienceState()
    faults.saw([1, 2, 3], T0)  # three people passed in this hour
    try:
        with caplog.at_level(logging.DEBUG):
            deadline = time.monotonic() + 20

            def back() -> bool:  # the broken creative skipped, the schedule's on screen again
                return bool(player.overlay.bad) and screen.renderer.stats.showing == "loop-a"

            while time.monotonic() < deadline and not back():
                state = state.update(Sample(t=now().t, faces=1, looking=1))
                decision = player.tick(state, now())
                if decision.action == "start":
                    screen.show(decision.creative)
                    shown.append(decision.creative)
                screen.draw()
                faults.release()
            assert shown[:3] == ["loop-a", "smile-back", "loop-a"], shown
            assert screen.renderer.stats.showing == "loop-a", "skipped at once: the schedule's creative is back"
            assert problems.all() == [], "no problem at the moment the audience rule chose it"
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
            assert not [line for line in said if "smile-back" in line], said
            wall["now"] = T0.replace(hour=11)
            faults.release()
    finally:
        screen.close()
    [problem] = problems.all()
    assert problem.startswith("creative smile-back cannot be shown: ")
    assert [r.levelno for r in caplog.records if "smile-back" in r.getMessage() and r.levelno >= logging.INFO] \
        == [logging.ERROR], "one journal line, at the hour"
