"""The real renderer in a real window (Xvfb, SDL's x11 driver), pixels read back."""

from __future__ import annotations

import datetime as dt
import time

import cv2
import numpy as np

from signage.config import DailyWindow, PowerConfig
from signage.display import readback
from signage.display.content import Content
from tests.fakes import FakeClock
from tests.support.renderers import H, Presents, W, image, make_renderer, settle


def test_red_image_contained_with_bars(window, tmp_path, xvfb):
    from signage.display import renderer as module

    renderer = window()
    assert module.pygame.display.get_driver() == "x11"
    square = image(tmp_path, "red.png", 300, 300, (0, 0, 255))
    renderer.show(Content(id="red", type="image", path=square, fit="contain"))
    pixels = settle(renderer, "red")
    assert pixels.shape == (H, W, 3)
    assert tuple(pixels[H // 2, W // 2]) == (255, 0, 0)  # red in the middle
    assert tuple(pixels[H // 2, 10]) == (0, 0, 0) and tuple(pixels[H // 2, W - 10]) == (0, 0, 0)  # bars
    bar = (W - H) // 2
    assert tuple(pixels[H // 2, bar + 2]) == (255, 0, 0) and tuple(pixels[H // 2, bar - 2]) == (0, 0, 0)


def test_cover_fills_the_screen(window, tmp_path):
    renderer = window()
    renderer.show(Content(id="red", type="image", path=image(tmp_path, "red.png", 300, 300, (0, 0, 255)),
                          fit="cover"))
    pixels = settle(renderer, "red")
    assert (pixels == (255, 0, 0)).all()


def test_card_text_is_drawn(window):
    renderer = window()
    renderer.show(Content(id="card", type="card", text="Hello there", background="#0000ff", color="#ffffff"))
    pixels = settle(renderer, "card")
    centre = pixels[H // 3: 2 * H // 3, W // 4: 3 * W // 4]
    assert (centre != (0, 0, 255)).any(axis=2).sum() > 500, "text pixels in the middle"
    assert tuple(pixels[5, 5]) == (0, 0, 255), "background at the edge"


def test_crossfade_midway_blends_the_two(window):
    clock = FakeClock()
    renderer = window(clock=clock)
    renderer.show(Content(id="red", type="card", text=" ", background="#ff0000"))
    settle(renderer, "red")
    renderer.show(Content(id="blue", type="card", text=" ", background="#0000ff", transition="fade",
                          fade_seconds=1.0))
    clock.now += 0.5
    renderer.frame()
    r, g, b = (int(v) for v in readback.pixels(renderer)[10, 10])
    assert 110 <= r <= 145 and g == 0 and 110 <= b <= 145
    clock.now += 0.6
    renderer.frame()
    assert tuple(readback.pixels(renderer)[10, 10]) == (0, 0, 255)


def test_a_corrupt_png_falls_back_at_once(window, tmp_path):
    """At once: on the decoder's word, with the renderer's clock standing still (no
    timeout of its own can have run out), whatever the machine's speed."""
    clock = FakeClock()
    renderer = window(clock=clock)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)
    renderer.show(Content(id="broken", type="image", path=broken))
    pixels = settle(renderer, "fallback")
    assert tuple(pixels[5, 5]) == (0, 255, 0)
    assert renderer.stats.errors == [
        "broken: broken.png cannot be decoded as an image (a PNG file without its IHDR header)"]
    # marked bad until the file changes: asking again fails at once, without a reload
    renderer.show(Content(id="broken", type="image", path=broken))
    assert renderer.stats.showing == "fallback"


def test_a_truncated_video_falls_back_where_it_was_cut(window, tmp_path):
    source = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 90))
    for _ in range(100):
        writer.write(np.full((90, 160, 3), (0, 0, 255), np.uint8))
    writer.release()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    renderer = window()
    renderer.show(Content(id="clip", type="video", path=truncated, loop=False))
    settle(renderer, "fallback")
    # on the decoder's word, where the file was cut: no stall timeout ran out
    assert renderer.stats.errors[0].startswith("clip: truncated.avi: decoding stopped at frame "), \
        renderer.stats.errors


def test_video_plays_and_reports_its_end(window, tmp_path):
    from signage.display.renderer import Ended

    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 90))
    for _ in range(15):
        writer.write(np.full((90, 160, 3), (255, 0, 0), np.uint8))  # blue
    writer.release()
    renderer = window()
    renderer.show(Content(id="clip", type="video", path=path, loop=False, fit="cover"))
    events, deadline = [], time.monotonic() + 3
    while time.monotonic() < deadline and not any(isinstance(e, Ended) for e in events):
        events += renderer.frame()
    assert Ended("clip") in events
    b = readback.pixels(renderer)[H // 2, W // 2]
    assert b[2] > 200 and b[0] < 60


def test_notice_is_drawn_and_hidden_in_privacy_mode(window):
    renderer = window(notice=True)
    renderer.show(Content(id="card", type="card", text=" ", background="#ff0000"))
    pixels = settle(renderer, "card")
    corner = pixels[H - 30: H - 10, W - 60: W - 20]
    assert (corner != (255, 0, 0)).any(), "the notice box darkens the bottom-right corner"
    renderer.set_notice_visible(False)
    renderer.frame()
    assert (readback.pixels(renderer)[H - 30: H - 10, W - 60: W - 20] == (255, 0, 0)).all()


def test_power_schedule_blanks_and_runs_commands(headless, tmp_path):
    clock = {"now": dt.datetime(2026, 11, 23, 22, 59)}
    off, on = tmp_path / "off", tmp_path / "on"
    power = PowerConfig(off=[DailyWindow(start="23:00", end="07:00")],
                        command_off=["touch", str(off)], command_on=["touch", str(on)])
    presents = Presents()
    renderer = make_renderer(power=power, wall=lambda: clock["now"], observer=presents)
    try:
        renderer.show(Content(id="card", type="card", text=" ", background="#ff0000"))
        settle(renderer, "card")
        clock["now"] = dt.datetime(2026, 11, 23, 23, 30)
        renderer.frame()
        assert renderer.stats.state == "off" and (readback.pixels(renderer) == 0).all()
        drawn = presents.count
        for _ in range(5):
            renderer.frame()
        assert presents.count == drawn, "nothing is drawn while off"
        clock["now"] = dt.datetime(2026, 11, 24, 7, 0)
        renderer.frame()
        assert renderer.stats.state == "ok" and tuple(readback.pixels(renderer)[5, 5]) == (255, 0, 0)
        deadline = time.monotonic() + 2
        while not (off.exists() and on.exists()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert off.exists() and on.exists()
    finally:
        renderer.close()


def test_rotated_screen_under_the_dummy_driver(headless, tmp_path):
    portrait = np.zeros((960, 540, 3), np.uint8)
    portrait[:480] = (0, 0, 255)
    path = tmp_path / "portrait.png"
    cv2.imwrite(str(path), portrait)
    renderer = make_renderer(rotation=90)
    try:
        renderer.show(Content(id="p", type="image", path=path))
        pixels = settle(renderer, "p")
        assert tuple(pixels[H // 2, W - 5]) == (255, 0, 0) and tuple(pixels[H // 2, 5]) == (0, 0, 0)
    finally:
        renderer.close()


def test_closing_the_window_is_reported_and_the_window_comes_back(window):
    from signage.display import renderer as module

    renderer = window()
    renderer.show(Content(id="card", type="card", text="Hi", background="#ff0000"))
    settle(renderer, "card")
    module.pygame.event.post(module.pygame.event.Event(module.pygame.QUIT))
    assert module.WindowClosed() in renderer.frame()
    renderer.reopen()
    pixels = settle(renderer, "card")
    assert tuple(pixels[5, 5]) == (255, 0, 0)
