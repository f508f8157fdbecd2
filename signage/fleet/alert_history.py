"""Reading the alerts for their page: which dashboard evaluates them, those open now, then
the history, newest first."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from signage.fleet.alerter import LEASE
from signage.fleet.tables import alerts, leases
from signage.fleet.times import now_utc

HISTORY_ROWS = 200


def alerts_view(engine: sa.Engine, site: str | None = None, limit: int = HISTORY_ROWS,
                now: datetime | None = None) -> dict:
    where = [alerts.c.site == site] if site else []
    with engine.begin() as conn:
        lease = conn.execute(sa.select(leases.c.holder, leases.c.expires_at).where(leases.c.name == LEASE)).first()
        open_now = [dict(r) for r in conn.execute(
            sa.select(alerts).where(alerts.c.recovered_at.is_(None), *where)
            .order_by(alerts.c.started_at, alerts.c.row)).mappings()]
        history = [dict(r) for r in conn.execute(
            sa.select(alerts).where(alerts.c.recovered_at.is_not(None), *where)
            .order_by(alerts.c.started_at.desc(), alerts.c.row.desc()).limit(limit)).mappings()]
    return {"open_alerts": open_now, "history": history, "evaluator": _evaluator(lease, now or now_utc())}


def _evaluator(lease, now: datetime) -> str:
    """Which `signage fleet` process evaluates the alerts (one per database: lease.py)."""
    if lease is None:
        return "No dashboard has evaluated the alerts yet."
    if lease.expires_at >= now:
        return (f"Evaluated by the dashboard {lease.holder} (host:pid:tag), its lease renewed until "
                f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC.")
    return (f"No dashboard evaluates the alerts now: {lease.holder} did last, and the next dashboard to "
            "evaluate takes over.")
