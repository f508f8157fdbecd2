"""Bytes the spool writes per held play in a busy hour: the SD card's wear from held.py.

A busy hour (min_group passers, no audience play) with a play every `--every` seconds,
each play held and kept as the kiosk keeps it (HeldCopy -> Spool.write); the WAL is not
checkpointed during the run, so its size is every page written. Prints WAL bytes per play
(a checkpoint writes those pages into the database again: about twice that reaches the card).

    python tools/held_wear.py [--every 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

from signage.contributors import Contributions
from signage.playlist.player import PlayRecord
from signage.telemetry.held import HeldCopy
from signage.telemetry.ledger import Ledger
from signage.telemetry.spool import Spool
from signage.telemetry.spool.heldrows import HeldRows

MIN_GROUP = 3
HOUR = dt.datetime(2026, 11, 23, 10, 0)


def play(n: int, every: float) -> PlayRecord:
    start = HOUR + dt.timedelta(seconds=n * every)
    who = Contributions()
    who.present.update({1: 4.0, 2: 4.0, 3: 4.0})
    end = start + dt.timedelta(seconds=every)
    return PlayRecord(f"idle-{n % 7}", "default", start.isoformat() + "Z", end.isoformat() + "Z", every,
                      "duration", peak_faces=3, mean_faces=3.0, peak_looking=0,
                      looking_seconds=0.0, expressions={}, people=who)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=10.0, help="seconds per play (default 10: 360 an hour)")
    every = parser.parse_args().every
    plays = int(3600 // every)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spool.sqlite3"
        spool = Spool(path)
        spool._opened().db.execute("PRAGMA wal_autocheckpoint=0")  # every page written stays in the WAL
        def keep(held: HeldRows) -> None:
            spool.write(held=held)

        ledger, copy = Ledger(MIN_GROUP), HeldCopy(keep)
        ledger.saw([1, 2, 3], HOUR)
        copy.update(ledger, MIN_GROUP)
        wal = Path(str(path) + "-wal")
        start = wal.stat().st_size
        for n in range(plays):
            ledger.add(play(n, every), hold=True)
            copy.update(ledger, MIN_GROUP)
        written = wal.stat().st_size - start
        spool.close()
        print(f"{plays} plays held in one busy hour: {written / 1e6:.1f} MB into the WAL, "
              f"{written / plays / 1e3:.1f} kB per play; the spool file {os.path.getsize(path) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
