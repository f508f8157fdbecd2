"""Reading the alerts for their page: those open now, then the history, newest first."""

from __future__ import annotations

import sqlalchemy as sa

from signage.fleet.tables import alerts

HISTORY_ROWS = 200


def alerts_view(engine: sa.Engine, site: str | None = None, limit: int = HISTORY_ROWS) -> dict:
    where = [alerts.c.site == site] if site else []
    with engine.begin() as conn:
        open_now = [dict(r) for r in conn.execute(
            sa.select(alerts).where(alerts.c.recovered_at.is_(None), *where)
            .order_by(alerts.c.started_at, alerts.c.row)).mappings()]
        history = [dict(r) for r in conn.execute(
            sa.select(alerts).where(alerts.c.recovered_at.is_not(None), *where)
            .order_by(alerts.c.started_at.desc(), alerts.c.row.desc()).limit(limit)).mappings()]
    return {"open_alerts": open_now, "history": history}
