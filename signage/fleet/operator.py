"""The writes a person makes from the pages: a command's record, screens retired or
deleted. They run on their own engine with a short lock wait: while the ingest, or
another process, holds SQLite's write lock, a page says within seconds that the
database is busy (the web app's handler), never after the ingest's 30 s."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from signage.fleet import database, forget
from signage.fleet.tables import commands, screens
from signage.fleet.times import now_utc

logger = logging.getLogger(__name__)

BUSY_SECONDS = 2.0


class OperatorWrites:
    def __init__(self, url: str, busy_seconds: float = BUSY_SECONDS):
        self.engine = database.create(url, writer=True, busy_seconds=busy_seconds)

    def close(self) -> None:
        self.engine.dispose()

    # ----- commands --------------------------------------------------------------------

    def record_command(self, site: str, device: str, feature: str, value: str) -> int:
        """Record a command as "sending", before it is published; its row number."""
        now = now_utc()
        with self.engine.begin() as conn:
            row = conn.execute(sa.insert(commands).values(site=site, device=device, feature=feature, value=value,
                                                          sent_at=now, state="sending")
                               .returning(commands.c.row)).scalar_one()
            conn.execute(sa.update(screens).where(screens.c.site == site, screens.c.device == device)
                         .values(updated_at=now))  # the live page shows it
        return row

    def command_published(self, row: int, error: str | None = None) -> None:
        """The broker took the command ("sent"), or did not (`error`: "not sent")."""
        with self.engine.begin() as conn:
            conn.execute(sa.update(commands).where(commands.c.row == row).values(
                state="sent" if error is None else "not sent", error=error))

    # ----- forgetting screens ------------------------------------------------------------

    def retire(self, days: int) -> int:
        with self.engine.begin() as conn:
            retired = forget.retire(conn, now_utc() - timedelta(days=days))
        logger.info("retired %d screens not seen for %d days (from the fleet page)", retired, days)
        return retired

    def delete(self, site: str, device: str) -> bool:
        with self.engine.begin() as conn:
            deleted = forget.delete(conn, site, device)
        if deleted:
            logger.info("deleted screen %s/%s and everything it reported (from its page)", site[:64], device[:64])
        return deleted
