"""Many plays written straight into the plays table, fast, for the export bench: rows made
a batch at a time (never all at once), written with the driver's bulk path (executemany on
SQLite, COPY on PostgreSQL). No rollups: the bench reads the raw plays only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet.demo import CREATIVES
from signage.fleet.tables import plays

BATCH = 20_000  # rows made and written at a time
COLUMNS = [c.name for c in plays.columns]
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
MIX = json.dumps({"happy": 1.5, "neutral": 2.75})


def rows(count: int, screens: int, days: int, first: datetime, offset: int = 0, total: int | None = None
         ) -> Iterator[tuple]:
    """Plays `offset` to `offset + count` of `total` (default `count`): `screens` screens of
    one site, each day of `days` from `first` holding as many, one screen after another at
    each step; some with their audience withheld, as a fleet sends them."""
    names = sorted(CREATIVES)
    steps = max(1, (total or count) // screens // days)  # steps in a day
    for n in range(offset, offset + count):
        day, step = divmod(n // screens, steps)
        start = first + timedelta(days=day) + timedelta(days=1) * step / steps
        seconds = float(CREATIVES[names[n % len(names)]][2]) + (n % 7) / 3  # figures with float noise
        audience = (3, 1.6666666666666667, 2, 4.25, MIX, 4, 3) if n % 5 else (None,) * 7  # one in five withheld
        peak_faces, mean_faces, peak_viewers, looking, mix, ots, viewers = audience
        yield (f"bench-{n:09d}", "site0", f"screen{n % screens:03d}", names[n % len(names)], "default", start,
               start + timedelta(seconds=seconds), seconds, "duration", peak_faces, mean_faces, peak_viewers,
               looking, mix, ots, viewers, start + timedelta(seconds=seconds + 1))


def fill(engine: sa.Engine, count: int, screens: int, days: int, first: datetime) -> None:
    """Write `count` plays (rows()) into an empty plays table."""
    for offset in range(0, count, BATCH):
        batch = list(rows(min(BATCH, count - offset), screens, days, first, offset, total=count))
        names = ", ".join(f'"{c}"' for c in COLUMNS)  # quoted: "end" is a keyword
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            if engine.dialect.name == "postgresql":
                with raw.cursor() as cursor, cursor.copy(f"COPY plays ({names}) FROM STDIN") as copy:  # type: ignore
                    for row in batch:
                        copy.write_row(row)
            else:  # as SQLAlchemy writes a DateTime on SQLite
                text = [tuple(v.strftime(SQLITE_TIME) if isinstance(v, datetime) else v for v in row) for row in batch]
                raw.cursor().executemany(  # type: ignore[union-attr]
                    f"INSERT INTO plays ({names}) VALUES ({', '.join('?' * len(COLUMNS))})", text)
