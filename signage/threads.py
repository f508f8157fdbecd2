"""Thread helpers: OS thread names, and a supervised loop that survives its own bugs
(behind the one fault barrier, faults.py).

`name_os_thread` names the OS thread after the Python thread (Python < 3.14 does not),
so `top -H`, /proc and `signage bench soak` can tell capture from analysis from telemetry."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from typing import Callable

from signage.faults import Barrier

logger = logging.getLogger(__name__)

_PR_SET_NAME = 15
_libc = None


def name_os_thread(name: str | None = None) -> None:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.prctl(_PR_SET_NAME, (name or threading.current_thread().name)[:15].encode(), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: names are a convenience only


class SupervisedThread:
    """A long-lived loop that survives its own bugs.

    `step()` runs over and over until `stop()`; between steps the thread waits up to
    `interval` seconds (less when `wake()` is called). Each step runs behind the one
    fault barrier (faults.py): an exception is counted in `errors`, logged with its
    traceback once per kind, and followed by a back-off that doubles up to
    `max_backoff`; then the loop carries on. `on_error(exc)`, if given, runs after each
    failure (e.g. to reset state the step left half-done); its own failure is logged,
    never fatal.

    Health: `stuck(stale)` is true only while one call of `step` has been running for
    more than `stale` seconds since it began or last called `beat()` (a long step, a
    download, beats as it makes progress); a thread that failed and recovered is not
    stuck. `alive(stale)` = the thread runs and is not stuck.
    """

    def __init__(self, name: str, step: Callable[[], None], interval: float,
                 on_error: Callable[[BaseException], None] | None = None, max_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.interval, self.max_backoff = name, interval, max_backoff
        self._step, self._on_error, self._clock = step, on_error, clock
        self._barrier = Barrier(logger, report=self._failed)
        self._cleanup = Barrier(logger)  # on_error's own faults: logged, not the loop's errors
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._busy_since: float | None = None
        self.steps = 0

    @property
    def errors(self) -> int:
        """Unexpected exceptions so far."""
        return self._barrier.total

    @property
    def last_error(self) -> str | None:
        """The most recent one, one line; None after a good step."""
        return self._barrier.last_error

    def start(self) -> SupervisedThread:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        if not self._wake.is_set():  # lock-free check: a burst of wake-ups costs no lock traffic
            self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the loop to end after the current step; True when the thread has ended."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def beat(self) -> None:
        """The step makes progress (called from within it): it is not stuck."""
        if self._busy_since is not None:
            self._busy_since = self._clock()

    @property
    def ended(self) -> bool:
        """The thread was started and is gone without being asked to stop."""
        return self._thread is not None and not self._thread.is_alive() and not self._stop.is_set()

    def stuck(self, stale: float) -> bool:
        busy_since = self._busy_since
        return busy_since is not None and self._clock() - busy_since > stale

    def alive(self, stale: float | None = None) -> bool:
        running = self._thread is not None and self._thread.is_alive()
        return running and not (stale is not None and self.stuck(stale))

    def _run(self) -> None:
        name_os_thread()
        while not self._stop.is_set():
            self._busy_since = self._clock()
            try:
                self._barrier.run(self.name, self._step)
            finally:
                self._busy_since = None
                self.steps += 1
            if self._stop.is_set():
                break
            failures = self._barrier.failing(self.name)
            if failures:  # back off: a wake-up does not cut it short
                self._stop.wait(min(self.max_backoff, self.interval * 2 ** min(failures, 16)))
            else:
                self._wake.wait(self.interval)
            self._wake.clear()

    def _failed(self, step: str, exc: BaseException | None) -> None:
        """The barrier's report: after a failed step, `on_error` (behind a barrier of its own)."""
        if exc is not None and self._on_error is not None:
            self._cleanup.run(f"{self.name}: on_error", self._on_error, exc)
