"""The frame-source interface every kind of source keeps, and what the kinds share.

`read()` returns the next Frame or None and never raises into the caller's loop;
`state` says whether the source is delivering; `close()` releases the device. A camera
(`RetryingCamera`) that fails to open or stops delivering is reopened with exponential
backoff forever, and says what it negotiated (`Negotiated`).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

logger = logging.getLogger(__name__)

MAX_WAIT_S = 0.25  # longest a read() blocks when nothing can be delivered


class SourceState(str, enum.Enum):
    """Whether a source delivers; status and the vision worker report it."""

    OK = "ok"  # delivering frames
    RETRYING = "retrying"  # failed recently; reopening with backoff
    GONE = "gone"  # failing for longer than gone_after; still retried, at the slowest pace
    ENDED = "ended"  # a file that does not loop has no more frames
    STALLED = "stalled"  # (vision worker) frames arrive but an inference has not returned in time


@dataclass(frozen=True)
class Frame:
    """One picture from a source; it never leaves signage/vision/."""

    image: np.ndarray  # BGR, owned by the vision stage, dropped after analysis
    index: int
    t: float  # seconds: monotonic for cameras and paced files, media time otherwise
    name: str | None = None  # image file name, for folder sources


class FrameSource(Protocol):
    """What the vision worker reads from, whatever the kind of source."""

    description: str

    @property
    def state(self) -> SourceState: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """How a failing camera is retried: doubling waits up to `max_s`, and `gone` after
    `gone_after_s` of failing."""

    initial_s: float = 0.5
    max_s: float = 30.0
    gone_after_s: float = 10.0

    def delay(self, failures: int) -> float:
        return min(self.initial_s * 2 ** max(failures - 1, 0), self.max_s)


class SourceStateMixin:
    """`state`, and one log line each time it changes."""

    description = ""
    _state = SourceState.OK

    @property
    def state(self) -> SourceState:
        return self._state

    def _set_state(self, state: SourceState, reason: str = "") -> None:
        if state != self._state:
            log = logger.info if state in (SourceState.OK, SourceState.ENDED) else logger.warning
            log("source %s: %s%s", self.description, state.value, f" ({reason})" if reason else "")
            self._state = state


@dataclass(frozen=True)
class Negotiated:
    """What a camera actually delivers, read back after asking (for logs and status)."""

    width: int
    height: int
    fps: float
    format: str  # FOURCC for V4L2 ("MJPG", "YUYV"), pixel format for libcamera ("RGB888")

    def __str__(self) -> str:
        return f"{self.width}x{self.height} {self.format} at {self.fps:g} fps"


class RetryingCamera(SourceStateMixin):
    """Retry and state for cameras: a device that fails to open or stops delivering is
    reopened with exponential backoff forever; `negotiated` says what it delivers."""

    negotiated: Negotiated | None = None

    def __init__(self, backoff: Backoff, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.backoff, self._clock, self._sleep = backoff, clock, sleep
        self._failures = 0
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._index = 0
        self._state = SourceState.RETRYING

    def _failed(self, reason: str) -> None:
        now = self._clock()
        self._failures += 1
        self._failing_since = self._failing_since if self._failing_since is not None else now
        self._next_attempt = now + self.backoff.delay(self._failures)
        gone = now - self._failing_since >= self.backoff.gone_after_s
        if self._failures == 1 and self._state == SourceState.RETRYING:  # the first try failed: say so now
            logger.warning("source %s: retrying (%s)", self.description, reason)
        self._set_state(SourceState.GONE if gone else SourceState.RETRYING, reason)

    def _report(self, negotiated: Negotiated, asked: str) -> None:
        """One log line when what the camera delivers is new (not at every reopen)."""
        if negotiated != self.negotiated:
            logger.info("%s: negotiated %s (asked for %s)", self.description, negotiated, asked)
        self.negotiated = negotiated

    def _delivered(self, image: np.ndarray) -> Frame:
        self._failures, self._failing_since = 0, None
        self._set_state(SourceState.OK)
        self._index += 1
        return Frame(image=image, index=self._index - 1, t=self._clock())

    def _wait_for_retry(self) -> bool:
        """True when it is time to try opening again; otherwise waits a little."""
        wait = self._next_attempt - self._clock()
        if wait > 0:
            self._sleep(min(wait, MAX_WAIT_S))
            return False
        return True
