"""What a face detector returns, whichever backend produced it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# BlazeFace's six keypoints, in the model's output order (the person's own right/left).
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class Detection:
    """One face in frame pixel coordinates: box (x, y, w, h) and six (x, y) keypoints."""

    box: tuple[float, float, float, float]
    keypoints: tuple[tuple[float, float], ...]
    score: float

    def keypoint(self, name: str) -> tuple[float, float]:
        return self.keypoints[KEYPOINTS.index(name)]


class FaceDetector(Protocol):
    """The contract both backends (litert, mediapipe) fulfil."""

    name: str

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        """Faces in a BGR frame, best first, after non-maximum suppression."""
        ...


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter_w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    inter_h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
