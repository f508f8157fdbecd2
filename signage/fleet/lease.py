"""One holder at a time, per database, for work that must run once however many
`signage fleet` processes share it (the alerts' evaluations): a row of `leases` per name,
with its holder and when its hold expires.

A row rather than PostgreSQL's advisory locks: it works alike on SQLite and PostgreSQL
(one code path, tested on both); it is taken in the transaction of the work it guards, so
a holder that lost it (paused past its expiry) can neither write nor send; and it says
who holds it. An advisory lock lives on one pooled connection, is lost silently with it,
and SQLite would need a second mechanism.

One UPDATE takes or renews it, its WHERE being the rule (mine, or expired): PostgreSQL's
row lock and SQLite's write lock (BEGIN IMMEDIATE) make a second taker wait and then find
it held. Times are the fleet's UTC wall clock, as in the alerts: processes on several
hosts share no monotonic clock, and a hold of several evaluations outlasts the skew of
NTP-synchronised servers.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet.database import insert_for
from signage.fleet.tables import leases

RELEASED = datetime(1970, 1, 1)  # an expiry long past: free to take


def holder_name() -> str:
    """This process, for a person reading the table: host, pid and a random tail (a pid is
    reused, and two containers may share a host name)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, name: str, seconds: float, holder: str | None = None):
        if seconds <= 0:
            raise ValueError(f"lease {name!r}: seconds must be above 0, got {seconds}")
        self.name, self.seconds = name, seconds
        self.holder = (holder or holder_name())[:100]

    def take(self, conn: sa.Connection, now: datetime) -> bool:
        """Take or renew the lease until now + seconds, in `conn`'s transaction: whether
        this holder has it. The first taker of a name inserts its row."""
        until = now + timedelta(seconds=self.seconds)
        t = leases.c
        mine_or_expired = (t.name == self.name) & ((t.holder == self.holder) | (t.expires_at < now))
        if conn.execute(sa.update(leases).where(mine_or_expired)
                        .values(holder=self.holder, expires_at=until)).rowcount == 1:
            return True
        first = insert_for(conn.engine)(leases).values(name=self.name, holder=self.holder, expires_at=until)
        # RETURNING, not rowcount: PostgreSQL's INSERT returns the key, and rowcount says -1
        taken = conn.execute(first.on_conflict_do_nothing(index_elements=["name"]).returning(leases.c.name))
        return taken.first() is not None

    def release(self, conn: sa.Connection) -> None:
        """Let another take it at once (a clean stop), if this holder has it."""
        conn.execute(sa.update(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
                     .values(expires_at=RELEASED))
