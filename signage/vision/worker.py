"""The vision stage running on its own: a capture thread and an analysis thread.

Capture reads frames as the source delivers them into a one-frame slot; analysis
always takes the newest frame, so a slow analysis never builds a backlog: older
frames are dropped and counted. Frames never leave this module; what comes out, by
the `on_snapshot` callback, is an AudienceSnapshot (numbers only).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from signage.audience import AudienceSnapshot
from signage.faults import Barrier
from signage.threads import name_os_thread
from signage.vision.pipeline import Pipeline
from signage.vision.sources import FrameSource, SourceState

logger = logging.getLogger(__name__)

FAULT_PAUSE_S = 0.5  # after a fault: a fault that repeats must not spin a core


class _NewestFrame:
    """A one-frame handoff: put replaces, take waits for a frame newer than the last."""

    def __init__(self):
        self._condition = threading.Condition()
        self._frame: tuple[np.ndarray, float] | None = None
        self.dropped = 0

    def put(self, image: np.ndarray, t: float) -> None:
        with self._condition:
            if self._frame is not None:
                self.dropped += 1  # analysis was busy: the older frame is dropped unseen
            self._frame = (image, t)
            self._condition.notify()

    def take(self, timeout: float) -> tuple[np.ndarray, float] | None:
        with self._condition:
            if self._frame is None:
                self._condition.wait(timeout)
            frame, self._frame = self._frame, None
            return frame


class VisionWorker:
    """`stall_after_s` (default: the pipeline's vision.inference_timeout) is how long one
    inference may take before `state` says STALLED: a stuck USB accelerator never returns
    from invoke, and a thread cannot be interrupted, so the state tells status and the
    analysis thread's silence in `last_progress` tells the systemd watchdog."""

    def __init__(self, pipeline: Pipeline, source: FrameSource, on_snapshot: Callable[[AudienceSnapshot], None],
                 max_fps: float = 15.0, stall_after_s: float | None = None):
        self.pipeline, self.source, self.on_snapshot = pipeline, source, on_snapshot
        self.min_interval = 1.0 / max_fps
        self.stall_after_s = stall_after_s if stall_after_s is not None else \
            getattr(pipeline.config, "inference_timeout", 10.0)
        self._busy_since: float | None = None  # monotonic start of the inference under way
        self._next_at = 0.0  # the analysis thread's: no frame is taken before (max_fps)
        self._stalled_logged = False
        self.slot = _NewestFrame()
        self.last_progress = {"capture": time.monotonic(), "analysis": time.monotonic()}
        self._barrier = Barrier(logger)  # both loops' steps: "capture", "analysis"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                         threading.Thread(target=self._analyse, name="analysis", daemon=True)]

    @property
    def state(self) -> SourceState:
        return SourceState.STALLED if self.stalled else self.source.state

    @property
    def stalled(self) -> bool:
        """An inference has been running for longer than stall_after_s."""
        busy_since = self._busy_since
        return busy_since is not None and time.monotonic() - busy_since > self.stall_after_s

    @property
    def hardware(self) -> dict[str, str | None]:
        """What the camera negotiated and whether the Edge TPU is in use, for status:
        {"camera": "1280x720 MJPG at 30 fps" | None, "edgetpu": "not in use: ..." | None}."""
        negotiated = getattr(self.source, "negotiated", None)
        edgetpu = self.pipeline.edgetpu
        return {"camera": str(negotiated) if negotiated else None,
                "edgetpu": str(edgetpu) if edgetpu.requested else None}

    def _log_stall(self) -> None:
        """One line when inference stalls and one when it recovers."""
        stalled = self.stalled
        if stalled and not self._stalled_logged:
            logger.error("no inference result for %g s: the detector is stuck (an Edge TPU on a failing USB "
                         "port does this); the camera state is 'stalled'", self.stall_after_s)
        elif not stalled and self._stalled_logged:
            logger.info("inference results again")
        self._stalled_logged = stalled

    @property
    def faults(self) -> int:
        """Unexpected exceptions the two loops survived."""
        return self._barrier.total

    @property
    def ended(self) -> bool:
        return self.source.state == SourceState.ENDED

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop capture, let the frame in analysis finish, release the camera and the
        models (an Edge TPU is held by one interpreter at a time: the next pipeline needs it)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)
        if self._threads[0].is_alive():  # stuck in a driver's read: closing under it could crash
            logger.error("the capture thread did not stop within 3 s; leaving the camera to it")
        else:
            self.source.close()
        self.on_snapshot(self.pipeline.end(time.monotonic()))
        if self._threads[1].is_alive():  # stuck in an inference: freeing its interpreter under it could crash
            logger.error("the analysis thread did not stop within 3 s; leaving the models to it")
        else:
            self.pipeline.close()

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    def stuck(self, stale: float) -> str | None:
        """The name of a thread that died or made no progress for `stale` seconds."""
        now = time.monotonic()
        for thread in self._threads:
            if not thread.is_alive() and not self._stop.is_set():
                return f"the {thread.name} thread (dead)"
            if now - self.last_progress[thread.name] > stale:
                return f"the {thread.name} thread"
        return None

    def _capture(self) -> None:
        name_os_thread()
        while not self._stop.is_set():
            self._barrier.run("capture", self._capture_one)
            if self._barrier.failing("capture"):
                self._stop.wait(FAULT_PAUSE_S)

    def _capture_one(self) -> None:
        frame = self.source.read()  # a failing camera retries inside
        self.last_progress["capture"] = time.monotonic()
        self._log_stall()
        if frame is not None:
            self.slot.put(frame.image, frame.t)

    def _analyse(self) -> None:
        name_os_thread()
        while not self._stop.is_set():
            self.last_progress["analysis"] = time.monotonic()
            wait = self._next_at - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                continue
            taken = self.slot.take(timeout=0.2)
            if taken is None:
                continue
            self._barrier.run("analysis", self._analyse_one, *taken)
            del taken  # the pixels stop here
            if self._barrier.failing("analysis"):
                self._stop.wait(FAULT_PAUSE_S)

    def _analyse_one(self, image: np.ndarray, t: float) -> None:
        self._busy_since = time.monotonic()
        try:
            snapshot = self.pipeline.process(image, t)
        finally:
            self._busy_since = None
        self._next_at = time.monotonic() + self.min_interval
        self.on_snapshot(snapshot)
