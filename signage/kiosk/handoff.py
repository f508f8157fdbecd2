"""The one lock between the vision threads and the main thread."""

from __future__ import annotations

import threading

from signage.audience import AudienceSnapshot, AudienceState, sample_of


class AudienceHandoff:
    """Vision -> rules: the newest smoothed AudienceState and the snapshots not yet counted.

    The analysis thread calls `put`; the main thread calls `take` once per loop. The
    pending list is bounded: if the main thread stalls, the oldest snapshots are counted
    as lost rather than growing without end.
    """

    MAX_PENDING = 1000  # > a minute of snapshots at the highest analysis rate

    def __init__(self):
        self._lock = threading.Lock()
        self._state = AudienceState()
        self._pending: list[AudienceSnapshot] = []
        self.lost = 0  # snapshots dropped because the main thread did not take them

    def put(self, snapshot: AudienceSnapshot) -> None:
        sample = sample_of(snapshot)
        with self._lock:
            self._state = self._state.update(sample)
            self._pending.append(snapshot)
            if len(self._pending) > self.MAX_PENDING:
                del self._pending[0]
                self.lost += 1

    def take(self) -> tuple[AudienceState, list[AudienceSnapshot]]:
        with self._lock:
            pending, self._pending = self._pending, []
            return self._state, pending

    def take_lost(self) -> int:
        """Snapshots dropped since the last call (counted as dropped frames in metrics)."""
        with self._lock:
            lost, self.lost = self.lost, 0
            return lost

    def clear(self) -> None:
        with self._lock:
            self._state = AudienceState()
