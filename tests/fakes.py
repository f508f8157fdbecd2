"""Fakes shared by the tests."""

from __future__ import annotations


class FakeClock:
    """Monotonic time that moves only when a test moves it (`now += ...`) or the code under
    test sleeps through it (`sleep`)."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
