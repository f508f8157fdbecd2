"""Recorded media as a source: a video file (paced at its frame rate or as fast as it
decodes) and still images (one file or a folder), each once or looping."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import cv2

from signage.errors import SourceUnavailable
from signage.fields import IMAGE_SUFFIXES
from signage.vision.sources.base import MAX_WAIT_S, Frame, SourceState, SourceStateMixin

logger = logging.getLogger(__name__)


class VideoFileSource(SourceStateMixin):
    """A video file, looping or not, paced at its frame rate or as fast as it decodes."""

    def __init__(self, path: Path, loop: bool = False, paced: bool = True,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.path, self.loop, self.paced = Path(path), loop, paced
        self._clock, self._sleep = clock, sleep
        self.description = f"video {self.path.name}"
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self._index = 0  # frames delivered in total, across loops
        self._media_index = 0  # frames delivered since the file last started
        self._started = self._clock()

    def _open(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            raise SourceUnavailable(f"video file {self.path} does not exist")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise SourceUnavailable(f"video file {self.path} cannot be decoded by OpenCV")
        return capture

    def read(self) -> Frame | None:
        if self._state == SourceState.ENDED:
            self._sleep(MAX_WAIT_S)
            return None
        ok, image = self._capture.read()
        if not ok and self.loop and self._media_index > 0:
            self._capture.release()
            self._capture = self._open()
            self._media_index = 0
            ok, image = self._capture.read()
        if not ok:
            self._set_state(SourceState.ENDED, f"after {self._index} frames")
            self._capture.release()
            return None
        media_t = self._index / self.fps
        if self.paced:
            due = self._started + media_t
            wait = due - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._index += 1
        self._media_index += 1
        return Frame(image=image, index=self._index - 1, t=self._clock() if self.paced else media_t)

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource(SourceStateMixin):
    """Still images (one file or a folder, in name order), each once or looping.
    Timestamps advance by 1/fps per image so the tracker sees a steady clock."""

    def __init__(self, path: Path, loop: bool = False, fps: float = 1.0):
        path = Path(path)
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            self.files = [path]
        else:
            raise SourceUnavailable(f"image source {path} does not exist")
        if not self.files:
            raise SourceUnavailable(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.loop, self.fps = loop, fps
        self.description = f"images {path.name}"
        self._index = 0

    def read(self) -> Frame | None:
        """The next readable image; at most one pass over the folder per call, so a
        looping folder of unreadable files waits (MAX_WAIT_S) instead of spinning."""
        for _ in range(len(self.files)):
            if self._state == SourceState.ENDED:
                return None
            if self._index >= len(self.files) and not self.loop:
                self._set_state(SourceState.ENDED, f"after {self._index} images")
                return None
            path = self.files[self._index % len(self.files)]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                if self._index <= len(self.files):  # once per file, not once per loop
                    logger.warning("skipping %s: not a readable image", path)
                continue
            return Frame(image=image, index=self._index - 1, t=(self._index - 1) / self.fps, name=path.name)
        if self._index >= len(self.files) and not self.loop:
            self._set_state(SourceState.ENDED, f"after {self._index} images")
        else:
            time.sleep(MAX_WAIT_S)
        return None

    def close(self) -> None:
        pass
