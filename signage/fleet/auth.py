"""Login sessions, CSRF tokens and the login rate limit. Sessions live in the web
process (a restart logs everyone out); tokens are 256-bit random values."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

SESSION_COOKIE = "fleet_session"
LOGIN_COOKIE = "fleet_login"  # double-submit token for the login form itself
SESSION_SECONDS = 12 * 3600


@dataclass
class Session:
    csrf: str
    expires: float
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) shown once


class Sessions:
    def __init__(self, lifetime: float = SESSION_SECONDS):
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[token] = Session(csrf=secrets.token_urlsafe(32), expires=now + self.lifetime)
        return token

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expires < time.monotonic():
                self._sessions.pop(token, None)
                return None
            session.expires = time.monotonic() + self.lifetime  # sliding
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


class LoginLimiter:
    """At most `attempts` failed logins per client per `window` seconds, and as many for
    everyone together times ten (a spread-out guesser)."""

    def __init__(self, attempts: int = 5, window: float = 300.0):
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and entries[0] < now - self.window:
            entries.popleft()
        return entries

    def wait_seconds(self, client: str) -> float:
        """0 if this client may try now, else how long to wait."""
        now = time.monotonic()
        with self._lock:
            for key, limit in ((client, self.attempts), ("*", self.attempts * 10)):
                entries = self._recent(key, now)
                if len(entries) >= limit:
                    return entries[0] + self.window - now
        return 0.0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            self._recent("*", now).append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
