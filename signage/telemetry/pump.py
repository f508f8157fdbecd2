"""The pump: the telemetry thread that moves messages from the hold through the spool to
the broker.

Each step, in order: the chores of the command inbox (a refusal window that ended), the
held messages the broker acknowledged straight from memory, the spool opened if it is due
(SpoolKeeper), a reload's previous spool copied in, then one transaction that writes the
hold into the spool and deletes what the broker acknowledged (group commit), and finally,
while connected, rows handed to the link in order, as many as the link has room for.
The held proof of play the kiosk keeps (hold.py `keep`) goes into the same transaction as
the messages sent before it, and again into each new spool file (opened, or rebuilt).
While the spool cannot take the hold and its own rows are all out, held messages are
handed to the link straight from memory, so nothing waits on a full disk.

It runs as a SupervisedThread: an unexpected exception costs a step, is logged once per
kind and counted, and what was handed to the link is handed again (a duplicate at worst,
never a gap). Stopping drains first (`drain`), then saves what is still held (`finish`).
"""

from __future__ import annotations

import time
from typing import Callable

from signage.telemetry.hold import Hold
from signage.telemetry.keeper import SpoolKeeper
from signage.telemetry.link import HELD, SPOOLED, Link
from signage.telemetry.spool.heldrows import HeldRows
from signage.threads import SupervisedThread

BATCH = 2000  # held messages written per transaction
STEP_S = 0.2  # the pump's idle wait between steps


class Pump:
    def __init__(self, link: Link, hold: Hold, keeper: SpoolKeeper, chores: Callable[[], None],
                 clock: Callable[[], float]):
        self._link, self._hold, self.keeper = link, hold, keeper
        self._chores, self._clock = chores, clock
        self._direct_up_to = 0  # highest held message handed to the link straight from memory
        self._body: HeldRows | None = None  # the held proof of play last written, for a new spool file
        self._file = keeper.generation  # the spool file it was written to
        self._thread = SupervisedThread("telemetry", self.step, STEP_S, on_error=self._failed)

    # ----- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._thread.wake()

    def alive(self, stale: float | None = None) -> bool:
        """The thread runs and, given `stale`, no single step has taken longer than that."""
        return self._thread.alive(stale)

    @property
    def errors(self) -> int:
        """Unexpected exceptions the pump survived."""
        return self._thread.errors

    @property
    def last_error(self) -> str | None:
        return self._thread.last_error

    @property
    def stopping(self) -> bool:
        return self.keeper.stopping

    def step(self) -> None:
        self._chores()
        self._take_direct_acks()
        self.keeper.open_when_due()
        self.keeper.copy_previous()
        self._store()
        if self._link.connected:
            self._publish()

    def _failed(self, exc: BaseException) -> None:
        """After an unexpected exception: forget what was handed to the link, so it is
        handed again (a duplicate at worst, never a gap)."""
        self._link.forget_in_flight()
        self.keeper.rewind()
        self._direct_up_to = 0

    # ----- one step's work ---------------------------------------------------------------------

    def _take_direct_acks(self) -> None:
        """Drop from the hold what the broker acknowledged straight from memory."""
        acked = self._link.direct_acked()
        if acked:
            self._link.keep_direct_acked_from(self._hold.drop_acknowledged(acked))

    def _store(self) -> None:
        """Held messages into the spool, acknowledged rows out of it, and the held proof of
        play: one transaction."""
        if not self.keeper.may_write():
            return
        if self.keeper.generation != self._file and self._body is not None and not self._hold.kept:
            self._hold.keep(self._body)  # a new file: it has not got the body yet
        self._file = self.keeper.generation
        batch = self._hold.oldest(BATCH)
        acked = self._link.take_acked()
        kept = self._hold.kept_with(batch[-1].seq if batch else 0)
        if not batch and not acked and kept is None:
            return
        body = kept.body if kept is not None else None
        if not self.keeper.write([(m.topic, m.payload, m.qos, m.retain) for m in batch], acked, body):
            self._link.give_back_acked(acked)
            return
        if batch:
            self._hold.drop_through(batch[-1].seq)
        if kept is not None:
            self._hold.stored(kept)
            self._body = kept.body

    def _publish(self) -> None:
        room = self._link.room()
        if room <= 0:
            return
        rows = self.keeper.unsent(room)
        if rows is None:
            return
        try:
            for row in rows:
                if not self._link.hand(row.topic, row.payload, row.qos, row.retain, (SPOOLED, row.row)):
                    return
                self.keeper.handed(row.row)
                room -= 1
            if room <= 0 or self.keeper.outage is None:
                return
            # The spool cannot take the hold and its own rows are all out: send from memory.
            for held in self._hold.oldest(room, after=self._direct_up_to):
                if not self._link.hand(held.topic, held.payload, held.qos, held.retain, (HELD, held.seq)):
                    return
                self._direct_up_to = held.seq
        finally:
            self._link.handed_all()

    # ----- stopping ----------------------------------------------------------------------------

    def busy(self) -> bool:
        """Something left to save or to send (rows acknowledged but not yet deleted do not count)."""
        if len(self._hold) or self._hold.kept:
            return True
        return self._link.connected and (self.keeper.unsent_left() or self._link.in_flight() > 0)

    def drain(self, deadline: float) -> bool:
        """Retry a failing spool at once, go on while there is something to save or send
        (until `deadline`), then end the thread; True when it has ended."""
        self.keeper.begin_stopping()
        while self._clock() < deadline and self.alive() and self.busy():
            self.wake()
            time.sleep(0.02)
        return self._thread.stop(timeout=max(0.5, deadline - self._clock()))

    def finish(self, deadline: float) -> None:
        """After the thread ended (the caller owns the spool now): last tries to save the hold."""
        while (len(self._hold) or self._hold.kept) and self._clock() < deadline:
            self._take_direct_acks()
            if self.keeper.spool is None:
                self.keeper.open()
            if self.keeper.spool is not None:
                self.keeper.copy_previous()
                self._store()
            if not len(self._hold) and not self._hold.kept:
                break
            time.sleep(0.05)
        self._take_direct_acks()
        self._store()  # also deletes what was acknowledged meanwhile
