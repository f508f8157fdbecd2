"""A video's length from its container, for the playlist's checks and schedule.

The display decodes videos (OpenCV), so the display says how long one is: the playlist
package is given this function and never imports a decoder itself."""

from __future__ import annotations

from pathlib import Path

import cv2


def video_length(path: Path) -> float | None:
    """Seconds of a video from its container, or None when OpenCV cannot open it."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
        return frames / fps if frames > 0 and fps > 0 else None
    finally:
        capture.release()
