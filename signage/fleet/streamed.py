"""Reads that stream: the rows of one query a batch at a time, on a connection held from
the query until the rows are read or the reader is closed (a download that ends early).

SQLAlchemy's `yield_per` fetches `BATCH` rows at a time: a server-side cursor on
PostgreSQL (psycopg), SQLite's own stepping cursor on SQLite. So an export of millions of
plays holds one batch in memory, whatever its length."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
import sqlalchemy as sa

from signage.fleet.tables import play_totals
from signage.fleet.times import day_range

BATCH = 1000  # rows fetched from the database at a time


class StreamedRows:
    """The rows of one query, read as they are iterated. The query runs when this is made
    (a database that is down fails there, before a response starts); `close` gives the
    connection back, and so does reading the last row."""

    def __init__(self, engine: sa.Engine, query: sa.Select, batch: int | None = None):
        self._conn = engine.connect()
        try:
            self._conn.begin()
            self._result = self._conn.execution_options(yield_per=batch or BATCH).execute(query).mappings()
        except BaseException:
            self._conn.close()
            raise

    def __iter__(self) -> Iterator[sa.RowMapping]:
        try:
            yield from self._result
        finally:
            self.close()

    @property
    def closed(self) -> bool:
        return self._conn.closed

    def close(self) -> None:
        """End the read (its transaction rolls back: it wrote nothing) and give the
        connection back; again is harmless."""
        if not self._conn.closed:
            self._result.close()
            self._conn.close()


Released = dict[tuple[str, str, str], dict[str, int]]  # (site, device, creative) -> {period: plays}


def released(engine: sa.Engine, day: date, site: str | None = None, device: str | None = None,
             creative: str | None = None) -> Released:
    """The plays of `day` the kiosks released in aggregate (their `totals` messages), per
    screen and creative and by period (hour or day): why a day's rollup row has plays with
    no audience. One day at a time, so the daily export holds one day of them."""
    t = play_totals
    query = (sa.select(t.c.site, t.c.device, t.c.creative, t.c.period, sa.func.sum(t.c.plays))
             .where(t.c.start >= day_range(day, day)[0], t.c.start < day_range(day, day)[1], t.c.plays.is_not(None))
             .group_by(t.c.site, t.c.device, t.c.creative, t.c.period))
    for column, value in ((t.c.site, site), (t.c.device, device), (t.c.creative, creative)):
        if value:
            query = query.where(column == value)
    found: Released = defaultdict(dict)
    with engine.begin() as conn:
        for s, d, c, period, n in conn.execute(query):
            found[(s, d, c)][period] = int(n or 0)
    return found
