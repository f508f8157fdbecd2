"""The pump's spool, and what to do when it fails.

The keeper owns the Spool object the pump uses: it opens it (again, every REOPEN_S, while
it cannot be opened), writes into it, reads what is still to be handed to the broker,
copies in the rows of a reload's previous spool file, and turns each fault the spool
raises into a state status can show:
- disk full, or an I/O error: nothing was written; retried with a back-off (RETRY_S),
  at once while stopping; the hold keeps the messages meanwhile;
- damaged: the spool rebuilds the file (moved aside, its readable rows copied into a new
  one). A failing SD card can damage each new file soon after the last rebuild, so a
  rebuild comes at most once per gap, the gap doubling while damage keeps coming back
  (REBUILD_GAP_S); stopping may rebuild once more, to save the hold;
- unusable (cannot be opened or rebuilt): this Spool object is dropped and the path
  opened again later.

Reading position. Rows are handed to the broker by number, in order (`sent_up_to`). Row
numbers handed out are never reused, also across Spool objects (`min_row` when a new one is
opened), so a late acknowledgement deletes only the message it names. A new Spool object
starts the reading from its first row: rows copied into it are handed again, a duplicate
at worst (consumers deduplicate by id), never a gap.

Used by the pump's thread only (and by the stopping thread once the pump has ended).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from signage.telemetry.spool import Spool, Spooled, SpoolFault, SpoolUnavailable
from signage.telemetry.spool.faults import describe
from signage.telemetry.spool.heldrows import HeldRows

logger = logging.getLogger(__name__)

RETRY_S = (0.5, 5.0)  # back-off between attempts to write to a failing spool
REOPEN_S = 10.0  # between attempts to open a spool that could not be opened
REBUILD_GAP_S = (30.0, 3600.0)  # the least time between two rebuilds, first and at most


@dataclass
class Outage:
    """Why the spool cannot take messages now, and when to try again."""

    kind: str  # full, io, unusable, corrupt (damaged again soon after a rebuild)
    text: str
    retry_at: float
    since: float  # the keeper's clock
    attempts: int = 1


class SpoolKeeper:
    def __init__(self, spool: Spool | Path | str, max_bytes: int, clock: Callable[[], float],
                 on_new_spool: Callable[[], None]):
        """`spool` is a Spool, or the path of one, opened by `open`; `on_new_spool` is told
        when a new Spool object replaces the last (what was handed out named the old one)."""
        self.path = spool.path if isinstance(spool, Spool) else str(spool)
        self._max_bytes = spool.max_bytes if isinstance(spool, Spool) else max_bytes
        self.spool: Spool | None = spool if isinstance(spool, Spool) else None
        self._clock, self._on_new_spool = clock, on_new_spool
        self.outage: Outage | None = None
        self.stopping = False  # retry a failing spool at once, rebuild once more if it must
        self._last_rebuild: float | None = None
        self._rebuild_gap = REBUILD_GAP_S[0]
        self._first_damage: float | None = None  # when damage was first seen since the last rebuild
        self._rebuilt_while_stopping = False
        self.sent_up_to = 0  # highest spool row handed to the broker
        self._highest_row = 0  # highest row ever handed out, of every Spool object used
        self._previous: str | None = None  # a reload's old spool file, its rows to copy into ours
        self._previous_retry_at = 0.0
        self._previous_error: str | None = None
        self.generation = 0  # counts the spool files used: opened, or rebuilt

    def begin_stopping(self) -> None:
        """From now on a failing spool is retried at once, and rebuilt once more if it must."""
        self.stopping = True

    # ----- opening -------------------------------------------------------------------------------

    def open_when_due(self) -> None:
        if self.spool is None and self._clock() >= (self.outage.retry_at if self.outage else 0):
            self.open()

    def open(self) -> None:
        try:
            self.spool = Spool(self.path, max_bytes=self._max_bytes, min_row=self._highest_row)
        except SpoolUnavailable as exc:
            if self.outage is None or self.outage.text != str(exc):
                logger.error("%s; holding messages in memory and trying again every %.0f s", exc, REOPEN_S)
            self.outage = self._new_outage("unusable", str(exc), REOPEN_S)
            return
        if self.outage is not None:
            logger.info("the spool %s works again", self.path)
        self.outage = None
        self.sent_up_to = 0
        self.generation += 1
        self._on_new_spool()

    def adopt_rows_of(self, path: str) -> bool:
        """The rows still in another spool file (a reload changed paths.spool) are to be
        copied into ours, then deleted there; False when it is our own file."""
        if ":memory:" in (path, self.path) or Path(path).resolve() == Path(self.path).resolve():
            return False
        self._previous = path
        return True

    def copy_previous(self) -> None:
        """A reload's old spool file: its unsent rows go into ours (then leave it), retried
        every REOPEN_S while either file cannot be used; one log line per outcome."""
        previous, spool = self._previous, self.spool
        if previous is None or spool is None or self._clock() < self._previous_retry_at:
            return
        try:
            copied = spool.append_from(previous)
        except (SpoolFault, OSError) as exc:
            self._previous_retry_at = self._clock() + REOPEN_S
            if self._previous_error != describe(exc):
                self._previous_error = describe(exc)
                logger.error("the unsent messages of the previous spool %s cannot be copied into %s yet (%s); "
                             "retrying every %.0f s", previous, spool.path, describe(exc), REOPEN_S)
            return
        self._previous = self._previous_error = None
        if copied:
            logger.warning("copied %d unsent messages from the previous spool %s into %s", copied, previous,
                           spool.path)

    # ----- writing and reading -----------------------------------------------------------------

    def may_write(self) -> bool:
        """A spool to write to, and no back-off to wait out."""
        if self.spool is None:
            return False
        return self.outage is None or self.stopping or self._clock() >= self.outage.retry_at

    def write(self, messages: Sequence[tuple[str, bytes, int, bool]], acked: list[int],
              held: HeldRows | None = None) -> bool:
        """Messages in, acknowledged rows out and the held proof of play replaced (if
        given), one transaction; False when the spool failed or is not open (nothing
        changed: the caller keeps all and tries again)."""
        if self.spool is None:
            return False
        try:
            self.spool.write(messages, acked, held)
        except SpoolFault as exc:
            self._failed(exc)
            return False
        self._first_damage = None  # the file took a write: a damage episode is over
        if self.outage is not None:
            logger.info("the spool accepts messages again after %.0f s", self._clock() - self.outage.since)
            self.outage = None
        return True

    def unsent(self, limit: int) -> list[Spooled] | None:
        """Up to `limit` rows not yet handed to the broker; None when the spool failed."""
        if self.spool is None or (self.outage and self.outage.kind == "corrupt"):
            return []
        try:
            return self.spool.oldest(limit, after=self.sent_up_to)
        except SpoolFault as exc:
            self._failed(exc)
            return None

    def handed(self, row: int) -> None:
        self.sent_up_to = row
        self._highest_row = max(self._highest_row, row)

    def rewind(self) -> None:
        """Hand every row again from the first (what was handed may not have arrived)."""
        self.sent_up_to = 0

    def unsent_left(self) -> bool:
        spool = self.spool
        return spool is not None and spool.depth > 0 and spool.highest_row > self.sent_up_to

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    # ----- faults --------------------------------------------------------------------------------

    def _new_outage(self, kind: str, text: str, retry_in: float) -> Outage:
        now = self._clock()
        return Outage(kind, text, now + retry_in, since=now)

    def _failed(self, exc: SpoolFault) -> None:
        if exc.kind == "corrupt":
            self._rebuild(describe(exc))
            return
        text = "disk full" if exc.kind == "full" else describe(exc)
        if self.outage is None or self.outage.text != text:
            logger.error("the spool cannot be written (%s): holding messages in memory, retrying", text)
            self.outage = self._new_outage(exc.kind, text, RETRY_S[0])
        else:
            self.outage.attempts += 1
            self.outage.retry_at = self._clock() + min(RETRY_S[1], RETRY_S[0] * 2 ** self.outage.attempts)

    def _rebuild(self, reason: str) -> None:
        now, last = self._clock(), self._last_rebuild
        if self._first_damage is None:
            self._first_damage = now
        last_chance = self.stopping and not self._rebuilt_while_stopping  # may save the hold rather than lose it
        if last is not None and now - last < self._rebuild_gap and not last_chance:
            if self.outage is None or self.outage.kind != "corrupt":
                logger.error("the new spool was damaged again %.0f s after the last rebuild (%s): the storage may "
                             "be failing; holding messages in memory, next rebuild in %.0f s",
                             now - last, reason, last + self._rebuild_gap - now)
                self.outage = Outage("corrupt", f"damaged again soon after a rebuild: {reason}",
                                     last + self._rebuild_gap, since=now)
            return
        # Damage first seen within an hour of the last rebuild doubles the gap; a calm hour
        # (no damage seen for an hour after it) resets it. Measured from the first damage of
        # this episode (until a write succeeds), not from now: the rebuild after a one-hour
        # gap always comes just after that hour, while the damage never stopped.
        calm = last is None or self._first_damage - last > REBUILD_GAP_S[1]
        self._rebuild_gap = REBUILD_GAP_S[0] if calm else min(REBUILD_GAP_S[1], 2 * self._rebuild_gap)
        self._last_rebuild, self._first_damage = now, None
        self._rebuilt_while_stopping = self.stopping
        spool = self.spool
        assert spool is not None, "only an open spool reports damage"
        self._highest_row = max(self._highest_row, spool.highest_row)
        try:
            spool.rebuild(reason)  # logs one line; keeps row numbers
        except Exception as exc:  # noqa: BLE001 - SpoolUnavailable, or a bug: either way reopen later
            if not isinstance(exc, SpoolUnavailable):
                logger.exception("rebuilding the damaged spool %s failed", spool.path)
            spool.close()
            self.spool = None
            self.outage = self._new_outage("unusable", describe(exc), REOPEN_S)
            logger.error("%s; holding messages in memory, opening the spool again every %.0f s",
                         describe(exc), REOPEN_S)
            return
        self.outage = None  # rows keep their numbers: what was handed to the broker stays handed
        self.generation += 1
        lowest = spool.take_lowest_adopted()  # rows of an older file copied in below what was handed
        if lowest is not None and lowest <= self.sent_up_to:
            self.sent_up_to = lowest - 1  # handed from there again: a duplicate at worst, never a gap

    # ----- for status ------------------------------------------------------------------------------

    def state(self) -> str:
        """"ok", "recovered: ...", "disk full", "error: ..." or "unusable: ..."."""
        outage, spool = self.outage, self.spool
        if outage is not None:
            return {"full": "disk full", "unusable": f"unusable: {outage.text}"}.get(outage.kind,
                                                                                   f"error: {outage.text}")
        if spool is not None and spool.recovery is not None:
            return f"recovered: {spool.recovery.describe()}"
        return "ok"
