"""When the picture must be presented again, and how long the loop may sleep.

A still picture is presented once; after that the loop only wakes to pump events,
check the power schedule and hear what to show next (every `idle` seconds at most,
or sooner when woken). A fade steps at the display rate for its length; a video
presents when its next frame is due. Pure: times come in, times go out.
"""

from __future__ import annotations

from dataclasses import dataclass

IDLE_S = 0.05  # the longest sleep: how quickly a new creative, a command or an expose is seen


@dataclass
class Pacing:
    period: float  # one display frame (1 / display.fps)
    idle: float = IDLE_S
    dirty: bool = True  # the picture changed and is not on screen yet
    changed_at: float = 0.0  # when it changed (for lateness)
    fade_next: float | None = None  # when the next fade step is due, while fading

    def change(self, now: float) -> None:
        if not self.dirty:
            self.dirty, self.changed_at = True, now

    def start_fade(self, now: float) -> None:
        self.fade_next = now
        self.change(now)

    def stop_fade(self) -> None:
        self.fade_next = None

    def due(self, now: float) -> float | None:
        """When the present that is needed now was due; None: nothing to present."""
        if self.fade_next is not None and now >= self.fade_next:
            return self.fade_next if not self.dirty else min(self.fade_next, self.changed_at)
        return self.changed_at if self.dirty else None

    def presented(self, now: float) -> None:
        self.dirty = False
        if self.fade_next is not None:
            self.fade_next += self.period
            if self.fade_next <= now:  # fell behind: step from now, do not catch up in a burst
                self.fade_next = now + self.period

    def wake_at(self, now: float, video_due: float | None = None) -> float:
        """The time to wake up: the next fade step or video frame, at most `idle` away."""
        wake = now + self.idle
        if self.dirty:
            return now
        for due in (self.fade_next, video_due):
            if due is not None:
                wake = min(wake, due)
        return max(now, wake)
