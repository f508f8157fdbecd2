"""What keeps the fleet database bounded: the retention purge of raw rows (rollups stay),
dead letters kept small and few, and retiring the screens not seen for a while (forget.py).

A dead letter is a valid message the database would not store, kept with the reason; it
keeps at most DEAD_LETTER_PAYLOAD characters, and the newest DEAD_LETTER_ROWS are kept."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet import forget
from signage.fleet.parse import RAW_KEPT, Incoming
from signage.fleet.tables import (alerts, commands, dead_letters, metrics, play_totals, plays, screen_transitions,
                                  status_history)
from signage.fleet.store.counters import Counters

DEAD_LETTER_PAYLOAD = RAW_KEPT
DEAD_LETTER_ROWS = 10_000

# Raw rows, by the column that says how old they are.
AGING = ((metrics, metrics.c.end), (plays, plays.c.end), (play_totals, play_totals.c.end),
         (status_history, status_history.c.at),
         (commands, commands.c.sent_at), (dead_letters, dead_letters.c.received_at))


class Housekeeping:
    def __init__(self, counters: Counters):
        self.counters = counters

    def dead_letter(self, conn: sa.Connection, item: Incoming, reason: str, now: datetime) -> None:
        text = item.raw.decode("utf-8", "replace").replace("\x00", "\N{REPLACEMENT CHARACTER}")
        conn.execute(sa.insert(dead_letters).values(
            received_at=now, site=item.site, device=item.device, kind=item.kind[:16], topic=item.topic[:200],
            reason=reason.replace("\x00", "")[:500], size=item.size, payload=text[:DEAD_LETTER_PAYLOAD]))
        self.counters.add(conn, {"dead_letters": 1})

    def purge(self, conn: sa.Connection, now: datetime, retention_days: int,
              retire_after_days: int | None) -> dict[str, int]:
        """Delete raw rows older than the retention, giving their payloads' room back to the
        budget; keep the newest DEAD_LETTER_ROWS dead letters; retire the screens not seen
        for `retire_after_days`. Rows deleted, by table."""
        cutoff = now - timedelta(days=retention_days)
        freed = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(metrics.c.payload)), 0))
                             .where(metrics.c.end < cutoff)).scalar_one()
        deleted = {table.name: conn.execute(sa.delete(table).where(column < cutoff)).rowcount
                   for table, column in AGING}
        t = screen_transitions  # the newest of each screen and feature stays: a report starts from it
        latest = sa.select(sa.func.max(t.c.row)).group_by(t.c.site, t.c.device, t.c.feature).scalar_subquery()
        deleted[t.name] = conn.execute(sa.delete(t).where(t.c.at < cutoff, t.c.row.not_in(latest))).rowcount
        deleted["alerts"] = conn.execute(sa.delete(alerts).where(alerts.c.recovered_at < cutoff)).rowcount  # open: kept
        newest = conn.execute(sa.select(sa.func.max(dead_letters.c.row))).scalar() or 0
        deleted["dead_letters"] += conn.execute(
            sa.delete(dead_letters).where(dead_letters.c.row <= newest - DEAD_LETTER_ROWS)).rowcount
        self.counters.add(conn, {"raw_bytes": -int(freed)})
        if retire_after_days:
            deleted["screens (retired)"] = forget.retire(conn, now - timedelta(days=retire_after_days), now)
        return deleted
