"""The kiosk's on-disk spool, the one home of sqlite3 in signage: the Spool itself
(spool.py), one SQLite file (file.py), its faults as the callers see them (faults.py),
the damaged files moved aside (damaged.py) and what can be read from them (salvage.py)."""

from signage.telemetry.spool.damaged import MAX_ASIDE, PENDING
from signage.telemetry.spool.faults import SpoolDamaged, SpoolFault, SpoolFull, SpoolIOError, SpoolUnavailable
from signage.telemetry.spool.spool import Recovery, Spool, Spooled

__all__ = ["MAX_ASIDE", "PENDING", "Recovery", "Spool", "SpoolDamaged", "SpoolFault", "SpoolFull", "SpoolIOError",
           "SpoolUnavailable", "Spooled"]
