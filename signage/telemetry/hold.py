"""The hold: messages `send` accepted and the spool has not taken yet, in memory, bounded.

`send` never waits for the disk: it adds to the hold, and the pump moves the hold into the
spool. While the spool cannot take it (disk full, I/O error, no usable file) the hold keeps
it, up to `max_messages` and `max_bytes`; past either bound the oldest message is dropped
and counted, with one log line. Each message gets a sequence number in the order `send`
took it, which is how the pump says what it stored or what the broker acknowledged.

The hold also keeps the newest body of held proof of play (`keep`, telemetry/held.py),
with the sequence number of the last message added before it: the pump writes it in the
transaction that stores those messages, never before them.

Any thread may add (`send` runs anywhere); the pump takes. One lock, held only for list
operations.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Iterable

from signage.telemetry.spool.heldrows import HeldRows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """Held proof of play to write, after the message numbered `after` (0: none)."""

    body: HeldRows
    after: int


@dataclass
class Held:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


class Hold:
    def __init__(self, max_messages: int, max_bytes: int):
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self._lock = threading.Lock()
        self._held: collections.deque[Held] = collections.deque()
        self._bytes = 0
        self._dropped = 0
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._kept: Kept | None = None  # the newest body, until the spool has it

    def __len__(self) -> int:
        return len(self._held)

    @property
    def dropped(self) -> int:
        """Messages dropped, oldest first, because the hold was at its bound."""
        return self._dropped

    def add(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        with self._lock:
            self._last_seq = next(self._seq)
            self._held.append(Held(self._last_seq, topic, payload, qos, retain))
            self._bytes += len(payload)
            while len(self._held) > self.max_messages or self._bytes > self.max_bytes:
                dropped = self._held.popleft()
                self._bytes -= len(dropped.payload)
                if not self._dropped:
                    logger.error("telemetry hold full (%d messages): dropping the oldest; the count is in status",
                                 self.max_messages)
                self._dropped += 1

    def keep(self, body: HeldRows) -> None:
        """The newest held proof of play, to be written after every message added so far."""
        with self._lock:
            self._kept = Kept(body, self._last_seq)

    @property
    def kept(self) -> bool:
        """A body waits for the spool."""
        return self._kept is not None

    def kept_with(self, through: int) -> Kept | None:
        """The body to write with the messages up to `through` (the batch being stored),
        if every message added before it is in that batch or already stored."""
        with self._lock:
            kept = self._kept
            if kept is None:
                return None
            waiting = next((m.seq for m in self._held if m.seq > through), None)
            return kept if waiting is None or waiting > kept.after else None

    def stored(self, kept: Kept) -> None:
        """The spool has `kept` (a newer body may have come meanwhile: that one stays)."""
        with self._lock:
            if self._kept is kept:
                self._kept = None

    def adopt(self, messages: Iterable[Held]) -> None:
        """Messages another hold could not save, oldest first, as if sent here."""
        for message in messages:
            self.add(message.topic, message.payload, message.qos, message.retain)

    def oldest(self, limit: int, after: int = 0) -> list[Held]:
        """Up to `limit` messages in order, those after sequence number `after`."""
        with self._lock:
            return list(itertools.islice((m for m in self._held if m.seq > after), limit))

    def drop_through(self, seq: int) -> None:
        """The spool has every message up to `seq`."""
        with self._lock:
            while self._held and self._held[0].seq <= seq:
                self._bytes -= len(self._held.popleft().payload)

    def drop_acknowledged(self, acknowledged: set[int]) -> int | None:
        """Drop the oldest messages while the broker has acknowledged them (sent straight
        from memory); the sequence number of the oldest one left, None when empty."""
        with self._lock:
            while self._held and self._held[0].seq in acknowledged:
                self._bytes -= len(self._held.popleft().payload)
            return self._held[0].seq if self._held else None

    def take_all(self) -> list[Held]:
        with self._lock:
            taken, self._held, self._bytes = list(self._held), collections.deque(), 0
        return taken
