"""Writing to the fleet database: `Store`, the one object the ingest calls, and its parts,
each owning its statements: facts.py (raw metrics and plays, idempotent by message id,
within the raw-payload budget), rollups.py (their hour and day sums), screen_state.py
(availability, status, echoes, refusals), housekeeping.py (retention, dead letters) and
counters.py (running totals).

A batch of messages is one transaction: all of it or (on an exception) none of it, the
rollups updated with the raw rows they come from, so a replay never counts twice and a
crash never counts half.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa

from signage.fleet import database
from signage.fleet.parse import Incoming
from signage.fleet.store.counters import Counters
from signage.fleet.store.facts import RAW_BUDGET_MB, Facts
from signage.fleet.store.housekeeping import Housekeeping
from signage.fleet.store.rollups import Rollups, summed
from signage.fleet.store.screen_state import ScreenStates
from signage.fleet.times import now_utc

logger = logging.getLogger(__name__)

FACTS = ("metrics", "play", "totals")  # kinds stored by message id; the others change a screen's state


@dataclass
class Written:
    stored: int = 0  # new metrics and plays
    duplicates: int = 0  # metrics and plays already stored (replays)
    expired: int = 0  # older than the retention: their raw rows would be purged, so not counted
    states: int = 0  # availability, status, state echoes, refusals
    raw_bytes: int = 0  # metrics payload characters kept
    raw_not_kept: int = 0  # new metrics rows stored without their payload (over the budget)
    screens: set[tuple[str, str]] = field(default_factory=set)


class Store:
    """The fleet database for writing, with its policy: how long raw rows stay, how much raw
    payload is kept, when unseen screens retire. `reader` is the engine pages read with."""

    def __init__(self, url: str, retention_days: int = 90, raw_budget_mb: float = RAW_BUDGET_MB,
                 retire_after_days: int | None = None):
        self.url, self.retention_days, self.retire_after_days = url, retention_days, retire_after_days
        self.raw_budget_bytes = int(raw_budget_mb * 1024 * 1024)
        self.engine = database.create(url, writer=True)
        sqlite_file = self.engine.dialect.name == "sqlite"
        self.reader = database.create(url, writer=False) if sqlite_file else self.engine
        insert = database.insert_for(self.engine)
        self.counters = Counters(insert)
        self.facts = Facts(insert)
        self.rollups = Rollups(insert)
        self.screens = ScreenStates(insert)
        self.housekeeping = Housekeeping(self.counters)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, revision: str = "head") -> tuple[str | None, str | None]:
        return database.migrate(self.engine, revision)

    def close(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    def reachable(self) -> bool:
        """Whether a transaction can be opened now (for SQLite, the write lock taken)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.select(1))
            return True
        except Exception:  # noqa: BLE001 - any failure means: not now
            return False

    def write(self, batch: Iterable[Incoming], now: datetime | None = None) -> Written:
        """Store a batch atomically: all of it or (on an exception) none of it."""
        now = now or now_utc()
        cutoff = now - timedelta(days=self.retention_days)
        result = Written()
        facts: dict[str, dict[str, Incoming]] = {kind: {} for kind in FACTS}
        states: list[Incoming] = []
        for item in batch:
            result.screens.add((item.site, item.device))
            if item.kind not in facts:
                states.append(item)
            elif item.interval()[1] < cutoff:
                result.expired += 1
            elif item.data.id in facts[item.kind]:
                result.duplicates += 1
            else:
                facts[item.kind][item.data.id] = item
        with self.engine.begin() as conn:
            new = self.facts.insert(conn, facts["metrics"], facts["play"], now, self.raw_budget_bytes,
                                    facts["totals"])
            result.stored = len(new.metrics) + len(new.plays) + len(new.totals)
            result.duplicates += sum(len(facts[kind]) for kind in FACTS) - result.stored
            result.raw_bytes, result.raw_not_kept = new.raw_bytes, new.raw_not_kept
            self.rollups.add(conn, summed(new.metrics, new.plays, new.totals))
            self.screens.touch(conn, result.screens, now)
            for item in states:
                self.screens.apply(conn, item, now)
            result.states = len(states)
            self.counters.add(conn, {"stored": result.stored, "duplicates": result.duplicates,
                                     "expired": result.expired, "raw_bytes": result.raw_bytes,
                                     "raw_not_kept": result.raw_not_kept})
        return result

    def count_unstored(self, reasons: Iterable[str], dropped: int = 0) -> None:
        """What the ingest did not store: invalid messages, in all ("invalid") and by reason
        ("invalid.<reason>"), and the QoS 0 messages it dropped in a flood ("qos0_dropped")."""
        by_reason = Counter(reasons)
        with self.engine.begin() as conn:
            self.counters.add(conn, {"invalid": sum(by_reason.values()), "qos0_dropped": dropped}
                              | {f"invalid.{r}": n for r, n in by_reason.items()})

    def dead_letter(self, item: Incoming, reason: str, now: datetime | None = None) -> None:
        """Keep a valid message the database would not store, with the reason."""
        with self.engine.begin() as conn:
            self.housekeeping.dead_letter(conn, item, reason, now or now_utc())

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what the retention and the bounds no longer keep (housekeeping.py)."""
        with self.engine.begin() as conn:
            deleted = self.housekeeping.purge(conn, now or now_utc(), self.retention_days, self.retire_after_days)
        if any(deleted.values()):
            logger.info("retention %d days: deleted %s", self.retention_days,
                        ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
        return deleted
