"""The fleet's running totals (messages stored, duplicates, invalid by reason, the raw
payload bytes kept, …): named counters that only ever add, inside the caller's
transaction, so a total moves with the rows it counts."""

from __future__ import annotations

import sqlalchemy as sa

from signage.fleet.database import InsertFor
from signage.fleet.tables import counters


class Counters:
    def __init__(self, insert: InsertFor):
        self._insert = insert  # the dialect's INSERT, which has ON CONFLICT (database.insert_for)

    def add(self, conn: sa.Connection, amounts: dict[str, int]) -> None:
        """Add each amount to its counter (made at 0); zeros change nothing."""
        rows = [{"name": k, "value": v} for k, v in sorted(amounts.items()) if v]
        if rows:
            stmt = self._insert(counters)
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"],
                                                    set_={"value": counters.c.value + stmt.excluded.value}), rows)

    @staticmethod
    def value(conn: sa.Connection, name: str) -> int:
        return conn.execute(sa.select(counters.c.value).where(counters.c.name == name)).scalar() or 0
