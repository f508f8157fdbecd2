"""When the screen presents and how long its loop sleeps (pacing.py): pure, times in,
times out."""

from signage.display.pacing import IDLE_S, Pacing


def test_a_still_picture_is_presented_once_then_the_loop_idles():
    pacing = Pacing(period=1 / 60)
    assert pacing.due(10.0) is not None
    pacing.presented(10.0)
    for now in (10.01, 10.5, 100.0):
        assert pacing.due(now) is None
        assert pacing.wake_at(now) == now + IDLE_S


def test_a_change_is_due_at_once_and_late_is_measured_from_when_it_changed():
    pacing = Pacing(period=1 / 60)
    pacing.presented(0.0)
    pacing.change(5.0)
    pacing.change(5.2)  # a second change before the present keeps the first time
    assert pacing.due(5.3) == 5.0 and pacing.wake_at(5.3) == 5.3


def test_a_fade_steps_at_the_display_rate_and_never_bursts_to_catch_up():
    period = 1 / 60
    pacing = Pacing(period=period)
    pacing.presented(0.0)
    pacing.start_fade(1.0)
    presents, now = 0, 1.0
    while now < 1.49:  # steps at 1.0 + k/60, k = 0..29
        if pacing.due(now) is not None:
            pacing.presented(now)
            presents += 1
        now = pacing.wake_at(now)
    assert presents == 30  # half a second at 60 a second
    pacing.presented(2.0)  # a stall of half a second: the next step is one period on, not 30 at once
    assert pacing.fade_next == 2.0 + period
    pacing.stop_fade()
    assert pacing.due(3.0) is None


def test_a_video_frame_wakes_the_loop_when_it_is_due():
    pacing = Pacing(period=1 / 60)
    pacing.presented(0.0)
    assert pacing.wake_at(1.0, video_due=1.02) == 1.02
    assert pacing.wake_at(1.0, video_due=0.99) == 1.0  # already due: no sleep
    assert pacing.wake_at(1.0, video_due=2.0) == 1.0 + IDLE_S  # far away: still wake to pump events
