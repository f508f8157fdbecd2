"""Writing to the fleet database: one transaction per batch of messages, idempotent by
message id, rollups updated in the same transaction as the raw rows they come from.

Raw metrics and plays are inserted with ON CONFLICT DO NOTHING ... RETURNING id; only
the rows that were really new feed the rollups, so a replay (a device re-sending after a
reconnect, the broker re-delivering to a restarted dashboard, two ingest processes
racing) never counts twice. Rollup rows are upserts that add (`x = x + excluded.x`), in
key order, so concurrent writers on PostgreSQL neither lose updates nor deadlock.

What is kept raw is bounded. A metrics row keeps the message as the model reads it (its
canonical JSON: no padding, at most RAW_MAX_BYTES by the model's bounds), and only while
the payloads kept add up to less than `raw_budget_bytes` (counter `raw_bytes`; the
retention purge gives the room back); past the budget the row and its rollups are stored
without the payload (counter `raw_not_kept`). A dead letter keeps at most
DEAD_LETTER_PAYLOAD characters, and the newest DEAD_LETTER_ROWS of them are kept.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from signage.fleet import database, forget
from signage.fleet.parse import Incoming, metrics_expressions, play_expressions
from signage.fleet.tables import (commands, counters, creative_day_expressions, creative_days,
                                  creative_site_day_expressions, creative_site_days, dead_letters, metrics, plays,
                                  screen_hour_expressions, screen_hours, screen_states, screens, status_history)

logger = logging.getLogger(__name__)

RAW_MAX_BYTES = 16 * 1024  # a metrics payload kept: above the largest the model's bounds allow (a test checks)
RAW_BUDGET_MB = 1024  # default: all the raw metrics payloads kept, together
DEAD_LETTER_PAYLOAD = 8 * 1024
DEAD_LETTER_ROWS = 10_000

STATUS_FIELDS = ("camera", "display", "broker", "playlist", "privacy", "last_error")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
    def __init__(self, url: str, retention_days: int = 90, raw_budget_mb: float = RAW_BUDGET_MB,
                 retire_after_days: int | None = None):
        self.url, self.retention_days, self.retire_after_days = url, retention_days, retire_after_days
        self.raw_budget_bytes = int(raw_budget_mb * 1024 * 1024)
        self.engine = database.create(url, writer=True)
        sqlite_file = self.engine.dialect.name == "sqlite"
        self.reader = database.create(url, writer=False) if sqlite_file else self.engine
        self._insert = sqlite.insert if sqlite_file else postgresql.insert

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self, revision: str = "head") -> tuple[str | None, str | None]:
        return database.migrate(self.engine, revision)

    def close(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    # ----- ingest ------------------------------------------------------------------------

    def write(self, batch: Iterable[Incoming], now: datetime | None = None) -> Written:
        """Store a batch atomically: all of it or (on an exception) none of it."""
        now = now or now_utc()
        cutoff = now - timedelta(days=self.retention_days)
        result = Written()
        facts: dict[str, dict[str, Incoming]] = {"metrics": {}, "play": {}}
        states: list[Incoming] = []
        for item in batch:
            result.screens.add((item.site, item.device))
            if item.kind in facts:
                if item.end < cutoff:
                    result.expired += 1
                elif item.data.id in facts[item.kind]:
                    result.duplicates += 1
                else:
                    facts[item.kind][item.data.id] = item
            else:
                states.append(item)
        with self.engine.begin() as conn:
            payloads = self._raw_payloads(conn, facts["metrics"].values())
            new_metrics = self._insert_raw(conn, metrics, [self._metric_row(m, payloads[m.data.id], now)
                                                           for m in facts["metrics"].values()])
            new_plays = self._insert_raw(conn, plays, [self._play_row(p, now) for p in facts["play"].values()])
            fresh = len(new_metrics) + len(new_plays)
            result.stored = fresh
            result.duplicates += len(facts["metrics"]) + len(facts["play"]) - fresh
            result.raw_bytes = sum(len(payloads[i]) for i in new_metrics)
            result.raw_not_kept = sum(1 for i in new_metrics if not payloads[i])
            self._roll_up(conn, [facts["metrics"][i] for i in new_metrics], [facts["play"][i] for i in new_plays])
            self._touch_screens(conn, result.screens, now)
            for item in states:
                self._apply_state(conn, item, now)
            result.states = len(states)
            self._count(conn, {"stored": result.stored, "duplicates": result.duplicates, "expired": result.expired,
                               "raw_bytes": result.raw_bytes, "raw_not_kept": result.raw_not_kept})
        return result

    def _raw_payloads(self, conn: sa.Connection, items: Iterable[Incoming]) -> dict[str, str]:
        """The payload each metrics message keeps: its canonical JSON while the budget
        lasts (in arrival order), else "" (the row and its rollups are stored anyway)."""
        used = conn.execute(sa.select(counters.c.value).where(counters.c.name == "raw_bytes")).scalar() or 0
        kept = {}
        for item in items:
            text = item.data.model_dump_json(by_alias=True)
            if len(text) > RAW_MAX_BYTES or used + len(text) > self.raw_budget_bytes:
                text = ""
            used += len(text)
            kept[item.data.id] = text
        return kept

    def count_invalid(self, reasons: Iterable[str]) -> None:
        """Invalid messages: in all ("invalid") and by reason ("invalid.<reason>")."""
        by_reason = Counter(reasons)
        with self.engine.begin() as conn:
            self._count(conn, {"invalid": sum(by_reason.values())} | {f"invalid.{r}": n for r, n in by_reason.items()})

    def dead_letter(self, item: Incoming, reason: str, now: datetime | None = None) -> None:
        """Keep a valid message the database would not store, with the reason."""
        text = item.raw.decode("utf-8", "replace").replace("\x00", "\N{REPLACEMENT CHARACTER}")
        with self.engine.begin() as conn:
            conn.execute(sa.insert(dead_letters).values(
                received_at=now or now_utc(), site=item.site, device=item.device, kind=item.kind[:16],
                topic=item.topic[:200], reason=reason.replace("\x00", "")[:500], size=len(item.raw),
                payload=text[:DEAD_LETTER_PAYLOAD]))
            self._count(conn, {"dead_letters": 1})

    def reachable(self) -> bool:
        """Whether a transaction can be opened now (for SQLite, the write lock taken)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.select(1))
            return True
        except Exception:  # noqa: BLE001 - any failure means: not now
            return False

    def _count(self, conn: sa.Connection, amounts: dict[str, int]) -> None:
        rows = [{"name": k, "value": v} for k, v in sorted(amounts.items()) if v]
        if rows:
            stmt = self._insert(counters)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                                    set_={"value": counters.c.value + stmt.excluded.value}), rows)

    def _insert_raw(self, conn: sa.Connection, table: sa.Table, rows: list[dict]) -> list[str]:
        if not rows:
            return []
        # One cached statement run as "insertmanyvalues" batches: multi-row INSERTs that
        # return the ids actually inserted (conflicts return nothing).
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
        return [row[0] for row in conn.execute(stmt, rows)]

    @staticmethod
    def _metric_row(item: Incoming, payload: str, now: datetime) -> dict:
        m = item.data
        return {"id": m.id, "site": item.site, "device": item.device, "start": item.start, "end": item.end,
                "passers": m.passers, "viewers": m.viewers, "peak_faces": m.peak_faces, "payload": payload,
                "received_at": now}

    @staticmethod
    def _play_row(item: Incoming, now: datetime) -> dict:
        p = item.data
        expressions = play_expressions(p)
        return {"id": p.id, "site": item.site, "device": item.device, "creative": p.creative, "rule": p.rule,
                "start": item.start, "end": item.end, "seconds": p.seconds, "ended": p.ended,
                "peak_faces": p.peak_faces, "mean_faces": p.mean_faces, "peak_viewers": p.peak_viewers,
                "looking_seconds": p.looking_seconds,
                "expressions": json.dumps(expressions, sort_keys=True) if expressions is not None else None,
                "received_at": now}

    def _roll_up(self, conn: sa.Connection, new_metrics: list[Incoming], new_plays: list[Incoming]) -> None:
        hours: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
        hour_expressions: dict[tuple, float] = defaultdict(float)
        days: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
        day_expressions: dict[tuple, float] = defaultdict(float)
        for item in new_metrics:
            m = item.data
            key = (item.site, item.device, item.start.replace(minute=0, second=0, microsecond=0))
            row = hours[key]
            row["intervals"] += 1
            row["frames"] += m.frames
            row["dropped_frames"] += m.dropped_frames
            # A withheld count (fewer than min_group people) is unknown, not zero: the interval
            # is counted as withheld and its people never summed (a sum would re-derive them).
            if m.passers is None:
                row["withheld_intervals"] += 1
            else:
                row["passers"] += m.passers
            if m.viewers is None:
                row["viewers_withheld_intervals"] += 1
            else:
                row["viewers"] += m.viewers
            if m.peak_faces is not None:
                row["peak_faces"] = max(row["peak_faces"], m.peak_faces)
            breakdown = metrics_expressions(m)
            if breakdown is None:
                row["viewers_unbroken"] += m.viewers or 0  # the mix stays unknown; never derived
            else:
                for expression, n in breakdown.items():
                    hour_expressions[key + (expression[:32],)] += n
        for item in new_plays:
            p = item.data
            start = item.start
            row = hours[(item.site, item.device, start.replace(minute=0, second=0, microsecond=0))]
            row["plays"] += 1
            row["play_seconds"] += p.seconds
            key = (item.site, item.device, start.date(), p.creative)
            day = days[key]
            day["plays"] += 1
            day["seconds"] += p.seconds
            breakdown = play_expressions(p)
            if p.peak_viewers is None or p.looking_seconds is None:
                # Withheld by the kiosk (fewer than min_group people): counted as a play, never
                # summed into audience figures (a sum over small groups would re-derive them).
                day["suppressed_plays"] += 1
                continue
            row["looking_seconds"] += p.looking_seconds
            day["viewed_plays"] += 1 if p.peak_viewers >= 1 else 0
            day["peak_viewers"] += p.peak_viewers
            day["looking_seconds"] += p.looking_seconds
            day["looking_squares"] += p.looking_seconds ** 2
            if breakdown is None:
                day["suppressed_plays"] += 1
            else:
                day["expressed_seconds"] += p.looking_seconds
                for expression, seconds in breakdown.items():
                    day_expressions[key + (expression[:32],)] += seconds
        integers = {"intervals", "withheld_intervals", "viewers_withheld_intervals", "passers", "viewers", "viewers_unbroken", "peak_faces", "frames", "dropped_frames",
                    "plays", "viewed_plays", "peak_viewers", "suppressed_plays"}

        def rows(table: sa.Table, groups: dict, value: str | None = None) -> list[dict]:
            keys = [c.name for c in table.primary_key.columns]
            out = []
            for key in sorted(groups):
                values = dict(groups[key]) if value is None else {value: groups[key]}
                values = {k: int(v) if k in integers else v for k, v in values.items()}
                out.append(dict(zip(keys, key)) | values)
            return out

        hour_columns = ["intervals", "withheld_intervals", "viewers_withheld_intervals", "passers", "viewers", "viewers_unbroken", "frames", "dropped_frames", "plays",
                        "play_seconds", "looking_seconds", "peak_faces"]
        filled = [{c: 0 for c in hour_columns} | r for r in rows(screen_hours, hours)]
        self._add(conn, screen_hours, filled, hour_columns[:-1], maximum=["peak_faces"])
        self._add(conn, screen_hour_expressions, rows(screen_hour_expressions, hour_expressions, "viewers"),
                  ["viewers"])
        day_columns = ["plays", "seconds", "viewed_plays", "peak_viewers", "looking_seconds", "looking_squares",
                       "suppressed_plays", "expressed_seconds"]
        filled = [{c: 0 for c in day_columns} | r for r in rows(creative_days, days)]
        self._add(conn, creative_days, filled, day_columns)
        self._add(conn, creative_day_expressions, rows(creative_day_expressions, day_expressions, "seconds"),
                  ["seconds"])
        # The same per site: (site, device, day, creative[, expression]) without the device.
        site_days: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
        for (site, _, day, creative), values in days.items():
            for name, value in values.items():
                site_days[(site, day, creative)][name] += value
        site_expressions: dict[tuple, float] = defaultdict(float)
        for (site, _, day, creative, expression), seconds in day_expressions.items():
            site_expressions[(site, day, creative, expression)] += seconds
        filled = [{c: 0 for c in day_columns} | r for r in rows(creative_site_days, site_days)]
        self._add(conn, creative_site_days, filled, day_columns)
        self._add(conn, creative_site_day_expressions,
                  rows(creative_site_day_expressions, site_expressions, "seconds"), ["seconds"])

    def _add(self, conn: sa.Connection, table: sa.Table, rows: list[dict], add: list[str],
             maximum: list[str] = ()) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        update = {c: table.c[c] + stmt.excluded[c] for c in add}
        update |= {c: sa.case((stmt.excluded[c] > table.c[c], stmt.excluded[c]), else_=table.c[c]) for c in maximum}
        keys = [c.name for c in table.primary_key.columns]
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)

    def _touch_screens(self, conn: sa.Connection, seen: set[tuple[str, str]], now: datetime) -> None:
        if not seen:
            return
        stmt = self._insert(screens)
        conn.execute(stmt.on_conflict_do_update(index_elements=["site", "device"],
                                                set_={"last_seen": stmt.excluded.last_seen,
                                                      "updated_at": stmt.excluded.updated_at}),
                     [{"site": s, "device": d, "last_seen": now, "updated_at": now} for s, d in sorted(seen)])

    def _apply_state(self, conn: sa.Connection, item: Incoming, now: datetime) -> None:
        where = (screens.c.site == item.site) & (screens.c.device == item.device)
        current = conn.execute(sa.select(screens).where(where)).mappings().first() or {}
        changes: dict = {}
        history: list[tuple[str, str]] = []
        if item.kind == "available":
            if current.get("availability") != item.data:
                changes = {"availability": item.data, "availability_since": now}
                history.append(("available", item.data))
        elif item.kind == "status":
            s = item.data
            changes = {"version": s.version[:32], "lock": s.lock, "uptime_s": s.uptime_s, "playing": (s.playing or None) and s.playing[:64],
                       "camera": s.camera[:32], "display": s.display[:32], "broker": s.broker[:200],
                       "playlist": s.playlist, "privacy": s.privacy, "spool_depth": s.spool_depth,
                       "spool_dropped": s.spool_dropped, "last_error": s.last_error, "status_at": now,
                       # null: a kiosk older than the field does not say (an empty list is an empty playlist)
                       "creatives": json.dumps(s.creatives) if "creatives" in s.model_fields_set else None}
            if current.get("status_at") is None:
                history.append(("status", "first status: " + ", ".join(
                    f"{name} {changes[name]}" for name in STATUS_FIELDS if changes[name] is not None)))
            else:
                diff = [f"{name}: {current.get(name)} → {changes[name]}" for name in STATUS_FIELDS
                        if current.get(name) != changes[name]]
                if diff:
                    history.append(("status", "; ".join(diff)))
        elif item.kind == "error":
            changes = {"refusal": item.data.error, "refusal_topic": item.data.topic[:200], "refusal_at": now}
            history.append(("refused", f"{item.data.topic}: {item.data.error}"))
        elif item.kind == "state":
            feature, value = item.data
            stmt = self._insert(screen_states).values(site=item.site, device=item.device, feature=feature,
                                                      value=value, at=now)
            conn.execute(stmt.on_conflict_do_update(index_elements=["site", "device", "feature"],
                                                    set_={"value": stmt.excluded.value, "at": stmt.excluded.at}))
            history.append(("state", f"{feature} = {value}"))
        changes["updated_at"] = now
        conn.execute(sa.update(screens).where(where).values(**changes))
        for kind, detail in history:
            conn.execute(sa.insert(status_history).values(site=item.site, device=item.device, at=now, kind=kind,
                                                          detail=detail))

    # ----- housekeeping ------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete raw rows older than the retention (rollups stay), giving their payloads'
        room back to the budget; keep the newest DEAD_LETTER_ROWS dead letters; retire the
        screens not seen for `retire_after_days` (see forget.py)."""
        now = now or now_utc()
        cutoff = now - timedelta(days=self.retention_days)
        deleted = {}
        with self.engine.begin() as conn:
            freed = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(metrics.c.payload)), 0))
                                 .where(metrics.c.end < cutoff)).scalar()
            for table, column in ((metrics, metrics.c.end), (plays, plays.c.end),
                                  (status_history, status_history.c.at), (commands, commands.c.sent_at),
                                  (dead_letters, dead_letters.c.received_at)):
                deleted[table.name] = conn.execute(sa.delete(table).where(column < cutoff)).rowcount
            newest = conn.execute(sa.select(sa.func.max(dead_letters.c.row))).scalar() or 0
            deleted["dead_letters"] += conn.execute(
                sa.delete(dead_letters).where(dead_letters.c.row <= newest - DEAD_LETTER_ROWS)).rowcount
            self._count(conn, {"raw_bytes": -int(freed)})
            if self.retire_after_days:
                deleted["screens (retired)"] = forget.retire(conn, now - timedelta(days=self.retire_after_days))
        if any(deleted.values()):
            logger.info("retention %d days: deleted %s", self.retention_days,
                        ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
        return deleted



def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) as naive UTC datetimes."""
    return datetime.combine(first, datetime.min.time()), datetime.combine(last + timedelta(days=1),
                                                                          datetime.min.time())
