import math

import pytest

from signage.vision.attention import EYE_SPACING_M, NOSE_DEPTH, distance_m, head_pose, is_looking, zone
from signage.vision.detection import Detection


def face(nose_dx=0.0, nose_dy=30.0, roll_deg=0.0, spacing=60.0):
    """Keypoints of a face centred at (300, 200): eyes level at y=200 before roll."""
    points = [(-spacing / 2, 0), (spacing / 2, 0), (nose_dx, nose_dy), (0, 55), (-70, 10), (70, 10)]
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    rotated = tuple((300 + x * c - y * s, 200 + x * s + y * c) for x, y in points)
    return Detection(box=(250, 150, 100, 120), keypoints=rotated, score=0.9)


def test_frontal_face_looks_at_the_camera():
    pose = head_pose(face())
    assert abs(pose.yaw) < 1 and abs(pose.pitch) < 1
    assert is_looking(pose, 30, 30)


def test_yaw_follows_the_nose_and_its_sign():
    right = head_pose(face(nose_dx=NOSE_DEPTH * 60))  # tan(yaw) = 1
    assert right.yaw == pytest.approx(45, abs=0.5)
    assert head_pose(face(nose_dx=-NOSE_DEPTH * 60)).yaw == pytest.approx(-45, abs=0.5)
    assert not is_looking(right, 30, 30)


def test_a_tilted_head_is_not_a_turned_head():
    pose = head_pose(face(roll_deg=25))
    assert abs(pose.yaw) < 1 and abs(pose.pitch) < 1


def test_pitch_up_and_down():
    assert head_pose(face(nose_dy=15)).pitch > 10  # nose near the eye line: chin up
    assert head_pose(face(nose_dy=45)).pitch < -10


def test_distance_from_eye_spacing_and_field_of_view():
    pose = head_pose(face(spacing=60))
    # 640 px wide, 90 degree HFOV: focal length 320 px; 63 mm at 60 px is 0.336 m.
    assert distance_m(pose, 640, 90) == pytest.approx(320 * EYE_SPACING_M / 60, rel=1e-3)
    assert [zone(d) for d in (0.5, 1.99, 2.0, 5.9, 6.0, 20)] == ["near", "near", "mid", "mid", "far", "far"]
