"""Login sessions, CSRF tokens and the login back-off. Sessions live in the web
process (a restart logs everyone out); tokens are 256-bit random values."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

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

    def alive(self, token: str | None) -> bool:
        """Whether the session still exists, without extending it: an open live page
        neither keeps a session alive nor outlives its logout."""
        with self._lock:
            session = self._sessions.get(token or "")
            return session is not None and session.expires >= time.monotonic()

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


def same_token(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


class LoginLimiter:
    """Per-client back-off for failed logins, atomic, never global.

    A client may fail `free` times; after that each further attempt waits twice as long
    as the one before (1 s, 2 s, 4 s … up to `longest`), and a client quiet for
    `longest` after its last wait starts afresh. `begin` books the attempt as a failure
    before the password is checked (scrypt takes tens of milliseconds), so parallel
    guesses cannot all pass the check together; `succeeded` forgives. There is no fleet-wide lock: a flood of
    wrong guesses from one client never makes another wait, so nobody can lock the
    operator out. Clients are addresses as the server sees them (X-Forwarded-For counts
    only from configured proxies); IPv6 clients by their /64, which one host owns.
    """

    def __init__(self, free: int = 5, longest: float = 900.0, clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.longest, self.clients, self.clock = free, longest, clients, clock
        self._records: OrderedDict[str, _Failures] = OrderedDict()  # least recently failed first
        self._lock = threading.Lock()

    def begin(self, client: str) -> float:
        """0 if this client may try now (the attempt is booked), else the seconds to wait."""
        key, now = client_key(client), self.clock()
        with self._lock:
            record = self._records.get(key)
            if record is None or now - max(record.last, record.until) >= self.longest:
                record = _Failures()  # quiet for `longest` after its last wait: forgotten
            if now < record.until:
                return record.until - now
            record.count += 1
            record.last = now
            if record.count >= self.free:
                record.until = now + min(self.longest, 2.0 ** (record.count - self.free))
            self._records[key] = record
            self._records.move_to_end(key)
            while len(self._records) > self.clients:  # bounded memory whatever the number of addresses
                self._records.popitem(last=False)
        return 0.0

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client_key(client), None)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    until: float = 0.0  # no attempt before this (monotonic)


def client_key(address: str) -> str:
    """The address, or its /64 for IPv6 (one host owns a whole /64)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
