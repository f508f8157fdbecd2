"""The alerter: each evaluation (a step of a supervised thread in `signage fleet`) reads
the screens, finds the conditions that hold (alert_rules.py), and keeps the `alerts` table in
step: a condition that starts opens an alert, one that ends closes it (recovered). An
alert is sent unless one of the same screen and rule was sent within the quiet period;
then it waits, and is sent when that period ends if it still holds. A recovery is sent
for an alert that was sent. Notices leave through `send` (the courier's queue), after the
transaction that records them, so delivery never holds the database or the ingest.

However many `signage fleet` processes share a database, one evaluates: the holder of
the "alerts" lease (lease.py), renewed in each evaluation's transaction. The others wait
and take over when it expires or its holder stops; the one taking over first sends again
what the last one recorded as sent but never delivered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet.alert_config import AlertsConfig
from signage.fleet.alert_rules import EVENTS, Condition, SpoolTrend, conditions
from signage.fleet.lease import Lease
from signage.fleet.tables import alerts, screens
from signage.fleet.times import iso, now_utc

logger = logging.getLogger(__name__)

LEASE = "alerts"  # the lease of the one evaluator per database
SCREEN_COLUMNS = ("site", "device", "availability", "availability_since", "camera", "display", "spool_depth",
                  "lock", "version", "refusal", "refusal_topic", "refusal_at", "status_at")


@dataclass(frozen=True)
class Notice:
    kind: str  # "alert" or "recovered"
    row: int  # its alert's row
    site: str
    device: str
    rule: str
    detail: str
    started_at: datetime
    recovered_at: datetime | None = None

    def payload(self) -> dict:
        """The webhook's JSON."""
        return {"event": self.kind, "site": self.site, "device": self.device, "rule": self.rule,
                "detail": self.detail, "started_at": iso(self.started_at),
                "recovered_at": iso(self.recovered_at) or None, "alert": self.row}

    def subject(self) -> str:
        word = "ALERT" if self.kind == "alert" else "recovered"
        return " ".join(f"[signage] {word} {self.site}/{self.device}: {self.detail}"[:200].split())

    def text(self) -> str:
        lines = [f"{self.site}/{self.device}: {self.detail}", f"rule: {self.rule}",
                 f"since: {self.started_at:%Y-%m-%d %H:%M:%S} UTC"]
        if self.recovered_at:
            lines.append(f"recovered: {self.recovered_at:%Y-%m-%d %H:%M:%S} UTC")
        return "\n".join(lines) + "\n"


class Alerter:
    def __init__(self, engine: sa.Engine, reader: sa.Engine, config: AlertsConfig, send: Callable[[Notice], None],
                 lease: Lease, clock: Callable[[], datetime] = now_utc):
        self.engine, self.reader, self.config, self.lease = engine, reader, config, lease
        self._send, self._clock = send, clock
        self.leading = False  # held the lease at the last evaluation
        self.spools = SpoolTrend()

    def evaluate(self) -> list[Notice]:
        """One round, if this process holds the lease: the notices it sent (to `send`)."""
        now = self._clock()
        with self.reader.begin() as conn:
            rows = conn.execute(sa.select(*[screens.c[name] for name in SCREEN_COLUMNS])).mappings().all()
        growing = self.spools.observe(rows, self.config.spool_messages)
        holding = {c.key: c for c in conditions(rows, now, self.config, growing)}
        present = {(r["site"], r["device"]) for r in rows}
        notices: list[Notice] = []
        with self.engine.begin() as conn:
            leading = self.lease.take(conn, now)
            if leading:
                # Taking over: before this round marks anything sent, what was marked so by
                # a process that stopped (or lost the lease) before its courier delivered it.
                notices += [] if self.leading else self._undelivered(conn)
                notices += self._recoveries(conn, holding, present, now)
                for condition in holding.values():
                    notices += self._raise(conn, condition, now)
        if leading != self.leading:
            logger.info("alerts: %s", "this process evaluates them (it holds the lease)" if leading else
                        "another process on this database evaluates them; this one takes over if it stops")
        self.leading = leading
        if not leading:
            return []
        for notice in notices:
            self._send(notice)
        return notices

    def release(self) -> None:
        """Hand the evaluations over at once (a clean stop), instead of when the lease expires."""
        with self.engine.begin() as conn:
            self.lease.release(conn)
        self.leading = False

    @staticmethod
    def _undelivered(conn: sa.Connection) -> list[Notice]:
        """Open alerts marked sent whose notice no courier delivered."""
        unsent = sa.select(alerts).where(alerts.c.recovered_at.is_(None), alerts.c.notified_at.is_not(None),
                                         alerts.c.delivery == "")
        return [Notice("alert", r["row"], r["site"], r["device"], r["rule"], r["detail"], r["started_at"])
                for r in conn.execute(unsent.order_by(alerts.c.row)).mappings()]

    def _recoveries(self, conn: sa.Connection, holding: dict, present: set, now: datetime) -> list[Notice]:
        """Close the alerts whose condition ended: a recovery, sent if the alert was; a
        screen that retired did not recover, so it is closed saying so, and not sent."""
        out = []
        for row in conn.execute(sa.select(alerts).where(alerts.c.recovered_at.is_(None))).mappings().all():
            if (row["site"], row["device"], row["rule"]) in holding:
                continue
            if (row["site"], row["device"]) not in present:
                conn.execute(sa.update(alerts).where(alerts.c.row == row["row"])
                             .values(recovered_at=now, delivery=(row["delivery"] + " | closed: the screen retired")
                                     .lstrip(" |")[-500:]))
                continue
            conn.execute(sa.update(alerts).where(alerts.c.row == row["row"]).values(recovered_at=now))
            logger.info("recovered: %s/%s %s", row["site"], row["device"], row["detail"])
            if row["notified_at"] is not None:
                out.append(Notice("recovered", row["row"], row["site"], row["device"], row["rule"], row["detail"],
                                  row["started_at"], now))
        return out

    def _raise(self, conn: sa.Connection, c: Condition, now: datetime) -> list[Notice]:
        """Open (or, for an event, record) the alert of `c` if it is new; send it unless quiet."""
        mine = (alerts.c.site == c.site) & (alerts.c.device == c.device) & (alerts.c.rule == c.rule)
        if c.rule in EVENTS:
            last = conn.execute(sa.select(sa.func.max(alerts.c.started_at)).where(mine)).scalar()
            if last is not None and c.since <= last:
                return []
            row = conn.execute(sa.insert(alerts).values(site=c.site, device=c.device, rule=c.rule, detail=c.detail,
                                                        started_at=c.since, recovered_at=c.since)
                               .returning(alerts.c.row)).scalar_one()
            opened: Mapping[Any, Any] = {"row": row, "notified_at": None, "detail": c.detail, "started_at": c.since}
        else:
            found = conn.execute(sa.select(alerts).where(mine, alerts.c.recovered_at.is_(None))).mappings().first()
            if found is not None:
                opened = found
            else:
                row = conn.execute(sa.insert(alerts).values(site=c.site, device=c.device, rule=c.rule,
                                                            detail=c.detail, started_at=c.since)
                                   .returning(alerts.c.row)).scalar_one()
                logger.warning("alert: %s/%s %s", c.site, c.device, c.detail)
                opened = {"row": row, "notified_at": None, "detail": c.detail, "started_at": c.since}
        if opened["notified_at"] is not None or self._quiet(conn, mine, now):
            return []
        conn.execute(sa.update(alerts).where(alerts.c.row == opened["row"]).values(notified_at=now))
        return [Notice("alert", opened["row"], c.site, c.device, c.rule, opened["detail"], opened["started_at"])]

    def _quiet(self, conn: sa.Connection, mine, now: datetime) -> bool:
        """Whether an alert of this screen and rule was sent within the quiet period."""
        last = conn.execute(sa.select(sa.func.max(alerts.c.notified_at)).where(mine)).scalar()
        return last is not None and now - last < timedelta(minutes=self.config.quiet_minutes)
