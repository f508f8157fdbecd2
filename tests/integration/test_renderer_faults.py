"""The renderer's fault barrier and memory bounds, with hostile creatives, in a real
window (Xvfb) with pixels read back. Every member of the gallery must end in the
fallback card (or, where the input is legal, the creative itself) with the process
alive, and peak memory under a stated bound."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from signage.display import readback
from signage.display.content import Content
from tests.support.hostile_creatives import GALLERY, hostile, png_header_only
from tests.support.renderers import H, W, settle

GREEN = (0, 255, 0)  # the fallback's background in these tests
MEMORY_BOUND_MB = 150  # peak RSS growth allowed for the whole gallery, over a renderer already open


@pytest.mark.parametrize("name", GALLERY)
def test_hostile_creative_never_takes_the_renderer_down(window, tmp_path, name):
    from signage.display.renderer import Failed

    renderer = window()
    content, reason = hostile(tmp_path, name)
    events = []
    renderer.show(content)
    events += renderer.frame()
    if reason is None:  # legal: shown, and never larger than the screen
        pixels = settle(renderer, content.id)
        events += renderer.frame()
        assert not [e for e in events if isinstance(e, Failed)], renderer.stats.errors
        if content.type == "video":
            deadline = time.monotonic() + 5
            while not readback.has_video_frame(renderer) and time.monotonic() < deadline:
                renderer.frame()
            pixels = readback.pixels(renderer)
        assert pixels.shape == (H, W, 3)
        assert tuple(pixels[5, 5]) != GREEN, "not the fallback"
        if content.type != "card":
            assert tuple(pixels[H // 2, W // 2]) == (255, 0, 0) or pixels[H // 2, W // 2][0] > 200
        return
    deadline = time.monotonic() + 10
    while not any(isinstance(e, Failed) for e in events) and time.monotonic() < deadline:
        events += renderer.frame()
    pixels = settle(renderer, "fallback")
    failures = [e for e in events if isinstance(e, Failed)]
    assert failures and failures[0].content_id == content.id
    assert reason in failures[0].reason, failures[0].reason
    assert tuple(pixels[5, 5]) == GREEN
    assert renderer.stats.errors[-1].startswith(f"{content.id}: ")


def test_each_failure_is_logged_once_per_file_version(window, tmp_path, caplog):
    renderer = window()
    content, _ = hostile(tmp_path, "text-named-png")
    for _ in range(3):
        renderer.show(content)
        settle(renderer, "fallback")
    card, _ = hostile(tmp_path, "card-nul")
    for _ in range(3):
        renderer.show(card)
        settle(renderer, "fallback")
    lines = [r.message for r in caplog.records if "cannot be shown" in r.message]
    assert len(lines) == 2, lines
    content.path.write_text("changed, still not an image")
    os.utime(content.path, ns=(1, 1))
    renderer.show(content)
    settle(renderer, "fallback")
    assert len([r for r in caplog.records if "cannot be shown" in r.message]) == 3, "a new version is reported"


def test_the_fallback_card_itself_never_fails(window):
    """A fallback whose text cannot be drawn still fills the screen with its colour.
    (The config refuses such text; the renderer must not depend on that.)"""
    from signage.config import FallbackConfig

    with pytest.raises(ValueError):
        FallbackConfig(text="bad\0text")
    fallback = FallbackConfig.model_construct(text="bad\0text", background="#00ff00", color="#000000")
    renderer = window(fallback=fallback)
    renderer.show(Content(id="x", type="card", text="also\0bad"))
    pixels = settle(renderer, "fallback")
    assert (pixels == GREEN).all()


CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from tests.support.hostile_creatives import hostile, GALLERY
from tests.support.renderers import make_renderer, settle
renderer = make_renderer()
renderer.show(hostile(Path(sys.argv[1]), "jpeg-truncated")[0])  # warm up: fonts, decoder, fallback
settle(renderer, "fallback")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peaks = {}
for name in GALLERY:
    content, reason = hostile(Path(sys.argv[1]), name)
    renderer.show(content)
    target = content.id if reason is None else "fallback"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        renderer.frame()
        if renderer.stats.showing == target and renderer.screen is not None:
            break
    for _ in range(10):
        renderer.frame()
    peaks[name] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024
    renderer.show_fallback()
renderer.close()
print(json.dumps(peaks))
"""


def test_peak_memory_of_the_gallery_stays_bounded(xvfb, tmp_path):
    """ru_maxrss (the process's peak) in a child: before these bounds, the 20000x20000
    PNG alone took the process to 2.68 GB and the 1000 px card to 1 GB."""
    from signage.modelfiles import PROJECT_ROOT

    for name in GALLERY:  # the media is written here, so the child measures showing it only
        hostile(tmp_path, name)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    peaks = json.loads(result.stdout.strip().splitlines()[-1])
    print("peak RSS growth (MB) per member, cumulative:", peaks)
    assert set(peaks) == set(GALLERY)
    assert max(peaks.values()) < MEMORY_BOUND_MB, peaks


def test_image_dimensions_from_headers(tmp_path):
    from signage.display.media import MediaError, image_dimensions

    for suffix in ("png", "jpg", "bmp", "webp", "gif"):
        path = tmp_path / f"i.{suffix}"
        if suffix == "gif":  # OpenCV writes no GIF before 4.11; a minimal one by hand
            path.write_bytes(b"GIF89a" + struct.pack("<HH", 321, 123) + b"\0\0\0;")
        else:
            assert cv2.imwrite(str(path), np.zeros((123, 321, 3), np.uint8))
        assert image_dimensions(path) == (321, 123), suffix
    assert image_dimensions(png_header_only(tmp_path / "c.png", 60000, 60000)) == (60000, 60000)
    progressive = tmp_path / "p.jpg"
    cv2.imwrite(str(progressive), np.zeros((50, 70, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert image_dimensions(progressive) == (70, 50)
    for data in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBPXXXX", b"hello"):
        (tmp_path / "bad").write_bytes(data)
        with pytest.raises(MediaError):
            image_dimensions(tmp_path / "bad")


def test_reduced_decoding_factor():
    from signage.display.media import reduction

    assert reduction((6000, 4000), (640, 360), "contain") == 8
    assert reduction((6000, 4000), (1920, 1080), "contain") == 2
    assert reduction((1920, 1080), (1920, 1080), "cover") == 1
    assert reduction((8000, 1000), (1920, 1080), "cover") == 1  # cover needs the full height


@pytest.mark.parametrize("call", ["present", "get"])
def test_a_pygame_error_from_any_display_call_is_display_loss_then_reopen(window, monkeypatch, call):
    """The kmsdrm analogue of a lost X server (a DRM device that goes away): SDL reports
    it as pygame.error from whatever call meets it first (presenting a new picture, or
    pumping events while the picture stands still)."""
    from signage.display import renderer as module

    renderer = window()
    renderer.show(Content(id="card", type="card", text="Hi", background="#ff0000"))
    settle(renderer, "card")
    target = renderer.screen.backend if call == "present" else module.pygame.event
    real = getattr(target, call)
    failures = iter([module.pygame.error("DRM device gone")])

    def failing(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(target, call, failing)
    renderer.show(Content(id="blue", type="card", text="Hi", background="#0000ff"))  # a picture to present
    renderer.frame()
    assert renderer.stats.state == "lost" and renderer.screen is None
    pixels = settle(renderer, "blue")
    assert renderer.stats.state == "ok" and tuple(pixels[5, 5]) == (0, 0, 255)


def test_the_newest_request_wins_over_an_image_still_being_prepared(window, tmp_path):
    """A rule (or an MQTT command) shows a card while a big image asked for just before is
    still decoding: the card stays; the image never replaces it when its decode ends."""
    renderer = window()
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.random.default_rng(2).integers(0, 255, (3000, 4000, 3), np.uint8))
    renderer.show(Content(id="img", type="image", path=big))
    renderer.show(Content(id="card", type="card", text="Now", background="#0000ff"))
    for _ in range(60):  # long enough for the image to have been decoded
        renderer.frame()
    assert renderer.stats.showing == "card" and not renderer.stats.errors
