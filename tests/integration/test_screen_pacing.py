"""The screen presents only when the picture changes (a real SDL window under Xvfb).

Presents are counted by a RenderObserver the test injects. Time that matters to
the renderer is a FakeClock where the test must know what is due; the real kiosk
test synchronises on real events (watchdog datagrams, the picture read back)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from signage.display import readback
from signage.display.content import Content
from tests.conftest import H264_FPS, H264_FRAMES, h264_grey
from tests.fakes import FakeClock
from tests.support.renderers import H, Presents, W, image, settle
from tests.support.waiting import wait_for


def turn_until(renderer, predicate, what: str, timeout: float = 10.0) -> list:
    """Turn the renderer's loop until `predicate()`; the events seen on the way."""
    events, deadline = [], time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; errors: {renderer.stats.errors}")
        events += renderer.frame()
    return events


def test_a_crossfade_presents_during_the_fade_only(window):
    clock, presents = FakeClock(), Presents()
    renderer = window(clock=clock, observer=presents)
    renderer.show(Content(id="red", type="card", text=" ", background="#ff0000"))
    settle(renderer, "red")
    still = presents.count
    for _ in range(10):
        renderer.frame()
    assert presents.count == still, "a card stands still: nothing more is presented"
    renderer.show(Content(id="blue", type="card", text=" ", background="#0000ff", transition="fade",
                          fade_seconds=1.0))
    for _ in range(10):  # ten display frames into the one-second fade
        clock.now += 1 / 60
        renderer.frame()
    assert presents.count - still >= 10, "every display frame of the fade is presented"
    r, _, b = (int(v) for v in readback.pixels(renderer)[10, 10])
    assert r > b, "early in the fade the old picture dominates"
    clock.now += 1.0  # past the end of the fade
    renderer.frame()
    assert tuple(readback.pixels(renderer)[10, 10]) == (0, 0, 255)
    done = presents.count
    for _ in range(10):
        clock.now += 1 / 60
        renderer.frame()
    assert presents.count == done, "after the fade, nothing more is presented"


def grey_on_screen(renderer) -> int:
    return int(readback.pixels(renderer)[H // 2, W // 2].mean())


@pytest.fixture(scope="module")
def decoded(h264_clip) -> list[int]:
    """The grey of each frame as the decoder gives it back (H.264 in yuv420p shifts
    levels by a few): what the screen must show, frame by frame."""
    import cv2

    capture, greys = cv2.VideoCapture(str(h264_clip)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        greys.append(int(frame[90, 160].mean()))
    capture.release()
    assert len(greys) == H264_FRAMES and all(abs(g - h264_grey(i)) < 7 for i, g in enumerate(greys))
    return greys


def index_of(grey: int, greys: list[int]) -> int:
    return min(range(len(greys)), key=lambda i: abs(greys[i] - grey))


def test_h264_frames_advance_at_the_video_rate_and_the_last_is_held(window, h264_clip, decoded):
    """Each frame of the clip is a grey level saying which it is. With the renderer's
    clock stepped by hand, the frame on screen is the one the video's own rate makes
    due; every frame is presented once; at the end the last one stays."""
    from signage.display.renderer import Ended

    clock, presents = FakeClock(), Presents()
    renderer = window(clock=clock, observer=presents)
    renderer.show(Content(id="clip", type="video", path=h264_clip, loop=False, fit="stretch"))
    turn_until(renderer, lambda: readback.has_video_frame(renderer), "the first frame")
    assert grey_on_screen(renderer) == decoded[0]
    start, events = clock.now, []
    for index in range(1, H264_FRAMES):
        clock.now = start + index / H264_FPS + 0.001  # just after frame `index` is due
        shown = presents.video_shown
        events += turn_until(renderer, lambda shown=shown: presents.video_shown > shown, f"frame {index}")
        assert index_of(grey_on_screen(renderer), decoded) == index
        before = presents.count
        events += renderer.frame()  # the clock stands still: frame index+1 is not due
        assert presents.count == before, "no present until the next frame is due"
    assert presents.video_dropped == 0
    clock.now += 1.0
    events += turn_until(renderer, lambda: any(isinstance(e, Ended) for e in events + renderer.frame()),
                         "the end of the video")
    held = presents.count
    for _ in range(5):
        clock.now += 0.2
        renderer.frame()
    assert grey_on_screen(renderer) == decoded[-1], "the last frame is held"
    assert presents.count == held


def test_the_surface_fallback_draws_when_no_renderer_can_be_made(window, tmp_path, monkeypatch, caplog, h264_clip,
                                                                 decoded):
    """SDL cannot create a renderer (a broken GL stack: faked at the pygame boundary):
    the window surface is drawn on instead, said once, and shows the same pictures."""
    import pygame

    from signage.display import textures, window as opening

    def refuse(*args, **kwargs):
        raise pygame.error("Couldn't find matching render driver")

    monkeypatch.setattr(textures.sdl2, "Renderer", refuse)
    monkeypatch.setattr(opening, "_fallback_logged", [False])
    caplog.set_level(logging.WARNING, "signage.display.window")
    presents = Presents()
    renderer = window(notice=True, observer=presents)
    assert renderer.screen.backend.kind == "surface"
    renderer.show(Content(id="red", type="image", path=image(tmp_path, "red.png", 300, 300, (0, 0, 255))))
    pixels = settle(renderer, "red")
    assert tuple(pixels[H // 2, W // 2]) == (255, 0, 0) and tuple(pixels[H // 2, 10]) == (0, 0, 0)
    assert (pixels[H - 30: H - 10, W - 60: W - 20] != (255, 0, 0)).any(), "the notice"
    still = presents.count
    for _ in range(5):
        renderer.frame()
    assert presents.count == still
    renderer.show(Content(id="clip", type="video", path=h264_clip, loop=True, fit="cover"))
    turn_until(renderer, lambda: readback.has_video_frame(renderer), "a video frame")
    renderer.frame()
    assert grey_on_screen(renderer) in decoded
    renderer.reopen()
    settle(renderer, "clip")
    assert len([r for r in caplog.records if "cannot create a renderer" in r.message]) == 1, "said once"


def test_the_hardware_decoder_falls_back_to_software_once(h264_clip, tmp_path, caplog, monkeypatch):
    """No V4L2 H.264 decoder on this machine: asking for it opens the software decoder
    and says so once per process; `software` never asks; other codecs never ask."""
    import cv2
    import numpy as np

    from signage.display import video

    monkeypatch.setattr(video, "_hardware_refused", [])
    caplog.set_level(logging.WARNING, "signage.display.video")
    for _ in range(2):
        capture, decoder = video.open_capture(h264_clip, "v4l2m2m")
        assert decoder == "software" and capture.read()[0]
        capture.release()
    capture, decoder = video.open_capture(h264_clip, "auto")
    capture.release()
    assert decoder == "software"
    assert len([r for r in caplog.records if "h264_v4l2m2m" in r.message]) == 1
    mjpeg = tmp_path / "m.avi"
    writer = cv2.VideoWriter(str(mjpeg), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 36))
    writer.write(np.zeros((36, 64, 3), np.uint8))
    writer.release()
    capture, decoder = video.open_capture(mjpeg, "v4l2m2m")
    capture.release()
    assert decoder == "software"


def test_video_decode_accepts_three_values():
    from pydantic import ValidationError

    from signage.config import DisplayConfig

    for value in ("auto", "software", "v4l2m2m"):
        assert DisplayConfig(video_decode=value).video_decode == value
    with pytest.raises(ValidationError, match="auto.*software.*v4l2m2m"):
        DisplayConfig(video_decode="vaapi")


class WatchdogSocket:
    """The systemd end of sd_notify: counts WATCHDOG=1 datagrams as they arrive."""

    def __init__(self, path):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.pings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                self.pings += b"WATCHDOG=1" in self.socket.recv(4096)
            except TimeoutError:
                continue

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


def test_a_still_creative_is_presented_once_while_the_kiosk_keeps_turning(xvfb, broker, tmp_path, monkeypatch):
    """The whole kiosk on one card: over about two seconds of watchdog pings (one every
    0.25 s) the present count stays flat, the loop keeps turning, status is still
    published, and the X server still shows the card."""
    from signage.kiosk.app import Kiosk, Observer
    from tests.kiosk import make_config, run_with
    from tests.screen import dominant, screenshot

    playlists = tmp_path / "playlists"
    playlists.mkdir()
    (playlists / "still.yaml").write_text(
        "creatives:\n  - {id: still, type: card, text: Still, background: '#224466', duration: 600}\n"
        "default: [still]\n")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "500000")  # a ping every 0.25 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    watchdog = WatchdogSocket(tmp_path / "notify")
    presents = Presents()

    class Watching(Observer):
        screen = presents

    config, path = make_config(tmp_path, broker.url, privacy="{start_in_privacy: true}")
    kiosk = Kiosk(config, config_path=path, observer=Watching())
    published = []
    kiosk.status_publisher.maybe_publish = (lambda real: lambda build, publish, force=False: real(
        build, lambda status: (published.append(status), publish(status)), force))(
        kiosk.status_publisher.maybe_publish)

    def script(c):
        wait_for(lambda: c.renderer.stats.showing == "still" and presents.count > 0, "the card on screen")
        wait_for(lambda: dominant(screenshot(xvfb)) == (0x22, 0x44, 0x66), "the card read back from X")
        pings, ticks, drawn, statuses = watchdog.pings, c.renderer.stats.ticks, presents.count, len(published)
        wait_for(lambda: watchdog.pings >= pings + 8, "two seconds of watchdog pings")
        assert presents.count - drawn <= 1, f"{presents.count - drawn} presents of a still card"
        assert c.renderer.stats.ticks > ticks + 10, "the loop keeps turning"
        assert dominant(screenshot(xvfb)) == (0x22, 0x44, 0x66), "the card is still on screen"
        wait_for(lambda: len(published) > statuses, "status still published")

    try:
        run_with(kiosk, script)
    finally:
        watchdog.close()


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_done_by_the_renderer_copy(window, tmp_path, rotation):
    """A portrait layout, top half red: after the panel's turn the red half is on the
    right (90), the bottom (180) or the left (270) of the screen; the notice is turned
    with it (it darkens the logical bottom-right corner)."""
    import cv2
    import numpy as np

    logical = (H, W) if rotation in (90, 270) else (W, H)
    picture = np.zeros((logical[1], logical[0], 3), np.uint8)
    picture[: logical[1] // 2] = (0, 0, 255)
    path = tmp_path / "half.png"
    cv2.imwrite(str(path), picture)
    renderer = window(rotation=rotation, notice=True)
    renderer.show(Content(id="half", type="image", path=path, fit="stretch"))
    pixels = settle(renderer, "half")
    red, black = (255, 0, 0), (0, 0, 0)
    centre_red = {90: (H // 2, W - 20), 180: (H - 20, W // 2), 270: (H // 2, 20)}[rotation]
    centre_black = {90: (H // 2, 20), 180: (20, W // 2), 270: (H // 2, W - 20)}[rotation]
    assert tuple(pixels[centre_red]) == red and tuple(pixels[centre_black]) == black
    # the logical bottom-right corner (where the notice is) turned onto the screen
    corner = {90: (H - 15, 15), 180: (15, 15), 270: (15, W - 15)}[rotation]
    assert tuple(pixels[corner]) != red, "the notice sits in the turned corner"


def test_the_loop_sleeps_while_the_screen_is_off_even_with_a_video_decoding(headless, h264_clip):
    """Power schedule off while a video decodes: each turn still sleeps (the wake-up a
    decoder gave before the screen went off is not left set to spin the loop)."""
    import datetime as dt
    import threading as threads

    from signage.config import DailyWindow, PowerConfig
    from tests.support.renderers import make_renderer

    class Recording(threads.Event):
        already_set = 0

        def wait(self, timeout=None):
            Recording.already_set += self.is_set()
            return super().wait(timeout)

    now = {"t": dt.datetime(2026, 11, 23, 12, 0)}
    renderer = make_renderer(power=PowerConfig(off=[DailyWindow(start="23:00", end="07:00")]),
                             wall=lambda: now["t"])
    try:
        renderer._wake = Recording()
        renderer.show(Content(id="clip", type="video", path=h264_clip, loop=True))
        turn_until(renderer, lambda: readback.has_video_frame(renderer), "a video frame")
        now["t"] = dt.datetime(2026, 11, 23, 23, 30)
        renderer.frame()
        assert renderer.stats.state == "off"
        renderer._wake.set()  # a decoder's wake-up, as when a frame is queued
        Recording.already_set = 0
        for _ in range(5):
            renderer.frame()
        assert Recording.already_set == 0, "a turn found the wake-up still set: the loop would spin"
    finally:
        renderer.close()
