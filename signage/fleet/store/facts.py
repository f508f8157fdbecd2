"""Raw metrics and plays, one row per message, idempotent by message id.

Rows are inserted with ON CONFLICT DO NOTHING ... RETURNING id: only the rows that were
really new feed the rollups, so a replay (a device re-sending after a reconnect, the broker
re-delivering to a restarted dashboard, two ingest processes racing) never counts twice.

What is kept raw is bounded. A metrics row keeps the message as the model reads it (its
canonical JSON: no padding, at most RAW_MAX_BYTES by the model's bounds), and only while
the payloads kept add up to less than the budget (counter `raw_bytes`; the retention purge
gives the room back); past the budget the row and its rollups are stored without the
payload (counter `raw_not_kept`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from signage.fleet.database import InsertFor
from signage.fleet.parse import Incoming, play_expressions
from signage.fleet.tables import metrics, play_totals, plays
from signage.fleet.store.counters import Counters

RAW_MAX_BYTES = 16 * 1024  # a metrics payload kept: above the largest the model's bounds allow (a test checks)
RAW_BUDGET_MB = 1024  # default: all the raw metrics payloads kept, together


@dataclass
class NewFacts:
    """The messages of a batch that were not stored before, and what their payloads cost."""

    metrics: list[Incoming]
    plays: list[Incoming]
    totals: list[Incoming]
    raw_bytes: int  # metrics payload characters kept
    raw_not_kept: int  # new metrics rows stored without their payload (over the budget)


class Facts:
    def __init__(self, insert: InsertFor):
        self._insert = insert  # the dialect's INSERT, which has ON CONFLICT (database.insert_for)

    def insert(self, conn: sa.Connection, new_metrics: dict[str, Incoming], new_plays: dict[str, Incoming],
               now: datetime, budget_bytes: int, new_totals: dict[str, Incoming] | None = None) -> NewFacts:
        """Insert the rows of these messages (by id); what was new."""
        new_totals = new_totals or {}
        payloads = self._payloads(conn, new_metrics.values(), budget_bytes)
        stored_metrics = self._insert_new(conn, metrics, [_metric_row(m, payloads[m.data.id], now)
                                                          for m in new_metrics.values()])
        stored_plays = self._insert_new(conn, plays, [_play_row(p, now) for p in new_plays.values()])
        stored_totals = set(self._insert_new(conn, play_totals, [row for t in new_totals.values()
                                                                 for row in _total_rows(t, now)], ["id", "creative"]))
        return NewFacts(metrics=[new_metrics[i] for i in stored_metrics], plays=[new_plays[i] for i in stored_plays],
                        totals=[new_totals[i] for i in stored_totals],
                        raw_bytes=sum(len(payloads[i]) for i in stored_metrics),
                        raw_not_kept=sum(1 for i in stored_metrics if not payloads[i]))

    @staticmethod
    def _payloads(conn: sa.Connection, items: Iterable[Incoming], budget_bytes: int) -> dict[str, str]:
        """The payload each metrics message keeps: its canonical JSON while the budget
        lasts (in arrival order), else "" (the row and its rollups are stored anyway)."""
        used = Counters.value(conn, "raw_bytes")
        kept = {}
        for item in items:
            text = item.kept
            if len(text) > RAW_MAX_BYTES or used + len(text) > budget_bytes:
                text = ""
            used += len(text)
            kept[item.data.id] = text
        return kept

    def _insert_new(self, conn: sa.Connection, table: sa.Table, rows: list[dict],
                    key: list[str] | None = None) -> list[str]:
        """The ids of the rows that were inserted (a conflict returns nothing)."""
        if not rows:
            return []
        # One cached statement run as "insertmanyvalues" batches: multi-row INSERTs.
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=key or ["id"]).returning(table.c.id)
        return [row[0] for row in conn.execute(stmt, rows)]


def _metric_row(item: Incoming, payload: str, now: datetime) -> dict:
    m = item.data
    return {"id": m.id, "site": item.site, "device": item.device, "start": item.start, "end": item.end,
            "passers": m.passers, "viewers": m.viewers, "peak_faces": m.peak_faces, "payload": payload,
            "received_at": now}


def _play_row(item: Incoming, now: datetime) -> dict:
    p = item.data
    expressions = play_expressions(p)
    return {"id": p.id, "site": item.site, "device": item.device, "creative": p.creative, "rule": p.rule,
            "start": item.start, "end": item.end, "seconds": p.seconds, "ended": p.ended,
            "peak_faces": p.peak_faces, "mean_faces": p.mean_faces, "peak_viewers": p.peak_viewers,
            "looking_seconds": p.looking_seconds,
            "expressions": json.dumps(expressions, sort_keys=True) if expressions is not None else None,
            "ots": p.ots, "viewers": p.viewers, "received_at": now}


def _total_rows(item: Incoming, now: datetime) -> list[dict]:
    t = item.data
    return [{"id": t.id, "creative": creative, "site": item.site, "device": item.device, "period": t.period,
             "start": item.start, "end": item.end, "plays": total.plays, "seconds": total.seconds,
             "received_at": now} for creative, total in t.creatives.items()]
