"""What the web app is given (`WebSettings`) and what its routes share (`Dashboard`, made
once per app and reached through deps.py)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from signage.fleet.auth import LoginLimiter, Sessions
from signage.fleet.outbox import Outbox, Publisher
from signage.fleet.identities import Identities
from signage.fleet.ingest import RateLimitedLog
from signage.fleet.operator import OperatorWrites
from signage.fleet.store import Store
from signage.fleet.web.pages import Pages

logger = logging.getLogger(__name__)


@dataclass
class WebSettings:
    store: Store
    login_hash: str
    root: str = "signage"
    publisher: Publisher | None = None
    secure_cookies: bool = False  # set behind an HTTPS proxy
    live_seconds: float = 2.0  # a live page looks for changes, and gets at most one event, this often
    retire_after_days: int | None = None  # the fleet page's default for retiring screens
    stopping: threading.Event = field(default_factory=threading.Event)  # ends the event streams
    identities: Identities | None = None  # provisioned devices and the quarantine (identities.py)
    releases: str | None = None  # the content releases folder served at /releases (routes/releases.py)


class Dashboard:
    """The settings, the engine pages read with, the login sessions and back-off, the
    person's writes (on their own engine: operator.py), the command outbox and the pages."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.reader = settings.store.reader
        self.sessions, self.limiter = Sessions(), LoginLimiter()
        self.writes = OperatorWrites(settings.store.url)
        self.outbox = Outbox(settings.root, self.reader, self.writes, settings.publisher)
        self.pages = Pages(self.reader)
        self._unavailable_log = RateLimitedLog(log=logger)

    def database_unavailable(self, exc: Exception) -> str:
        """Log (rate-limited) that the database is away; the reason, for the person."""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        self._unavailable_log.warning("fleet database unavailable: %s", reason)
        return reason
