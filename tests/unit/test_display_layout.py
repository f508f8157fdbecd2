import cv2
import numpy as np
import pytest

import datetime as dt

from signage.fields import DailyWindow, within
from signage.display.layout import fitted, logical_size, placement, rotate_rect, turned
from signage.display.media import fit_pixels, prepare_image


def test_contain_cover_stretch():
    assert fitted((400, 200), (100, 100), "contain") == (100, 50, 0, 0, 0, 25)
    assert fitted((400, 200), (100, 100), "cover") == (200, 100, 50, 0, 0, 0)
    assert fitted((400, 200), (100, 100), "stretch") == (100, 100, 0, 0, 0, 0)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_rects_stay_on_screen_and_keep_their_area(rotation):
    logical = logical_size((1920, 1080), rotation)
    x, y, w, h = rotate_rect((10, 20, 300, 100), logical, rotation)
    assert w * h == 300 * 100
    assert 0 <= x and x + w <= 1920 and 0 <= y and y + h <= 1080


def test_time_windows_may_cross_midnight_and_end_at_24_00():
    night = [DailyWindow(start="23:00", end="07:00")]
    assert within(night, dt.time(23, 30)) and within(night, dt.time(3, 0))
    assert not within(night, dt.time(7, 0)) and not within(night, dt.time(12, 0))
    evening = [DailyWindow(start="18:00", end="24:00")]  # the same window is valid in playlists and config
    assert within(evening, dt.time(23, 59, 59)) and not within(evening, dt.time(0, 0))


def test_portrait_image_fills_a_rotated_1080x1920_layout(tmp_path):
    # A portrait panel: the screen is 1920x1080, turned 90 degrees clockwise.
    image = np.zeros((1920, 1080, 3), np.uint8)
    image[:960] = (0, 0, 255)  # top half red (BGR)
    image[960:] = (255, 0, 0)  # bottom half blue
    path = tmp_path / "portrait.png"
    cv2.imwrite(str(path), image)
    logical = logical_size((1920, 1080), 90)
    assert logical == (1080, 1920)
    pixels = prepare_image(path, logical, "contain")  # BGRA in the logical layout: the renderer turns it
    assert pixels.shape == (1920, 1080, 4)
    # No bars: the portrait image fills the portrait layout, top red, bottom blue.
    assert tuple(pixels[5, 540]) == (0, 0, 255, 255) and tuple(pixels[1915, 540]) == (255, 0, 0, 255)
    assert tuple(pixels[5, 5]) == (0, 0, 255, 255) and tuple(pixels[1915, 1075]) == (255, 0, 0, 255)
    # Turned clockwise onto the 1920x1080 panel, the layout's top is on the screen's right.
    assert rotate_rect((0, 0, 1080, 960), logical, 90) == (960, 0, 960, 1080)


def test_placement_lets_the_gpu_scale_and_crop():
    # contain: the whole source into a centred box, bars left and right
    assert placement((1280, 720), (640, 480), "contain") == ((0, 0, 1280, 720), (0, 60, 640, 360))
    # cover: the middle of the source, the whole target
    assert placement((400, 200), (100, 100), "cover") == ((100, 0, 200, 200), (0, 0, 100, 100))
    assert placement((160, 90), (640, 360), "stretch") == ((0, 0, 160, 90), (0, 0, 640, 360))


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_turned_draw_lands_on_the_rotated_rect(rotation):
    """SDL turns a copy about the centre of its destination: drawing at `turned(rect)`
    with the panel's rotation covers exactly `rotate_rect(rect)`."""
    logical = logical_size((1920, 1080), rotation)
    rect = (10, 20, 300, 100)
    x, y, w, h = turned(rect, logical, rotation)
    cx, cy = x + w / 2, y + h / 2
    sx, sy, sw, sh = rotate_rect(rect, logical, rotation)
    assert (w, h) == (300, 100) and (cx, cy) == (sx + sw / 2, sy + sh / 2)


def test_contain_letterboxes_and_cover_crops():
    wide = np.full((100, 400, 3), 200, np.uint8)
    contained = fit_pixels(wide, (200, 200), "contain")
    assert contained.shape == (200, 200, 3) and contained[10, 100].max() == 0 and contained[100, 100].min() == 200
    covered = fit_pixels(wide, (200, 200), "cover")
    assert covered.shape == (200, 200, 3) and covered.min() == 200
