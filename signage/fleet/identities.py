"""Which screens the fleet knows: the devices `signage fleet provision` made a broker
identity for (devices.yaml beside fleet.yaml), and the identities it does not know.

With a broker ACL (docs/security.md) only a device's own credentials can publish under
`<root>/<site>/<device>/`, so a topic names who sent it: the broker checks, not us. What
we check is that the device is one we provisioned. Messages from any other identity
(an old wildcard ACL, an anonymous broker, a typo in a kiosk's config) are quarantined:
counted and listed, never made into screens. A fleet that has provisioned nothing yet
runs open, as before, and its pages say that no identity is checked.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signage import validation, yamlread
from signage.errors import SignageError
from signage.patterns import NAME_PATTERN

logger = logging.getLogger(__name__)

NEW_FOR = dt.timedelta(days=7)  # a provisioned identity is shown as new this long
RELOAD_EVERY_S = 5.0  # the file is looked at (one stat) at most this often
RESERVED_SITE = "content"  # <root>/content/... is the content announcements' (wire/announcements.py)
QUARANTINE_MAX = 500  # identities listed; past it only counted
LOG_EVERY_S = 60.0  # one line about new strangers per minute at most: forged identities come by thousands


class Provisioned(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(pattern=NAME_PATTERN)
    device: str = Field(pattern=NAME_PATTERN)
    provisioned: dt.datetime = Field(description="When `signage fleet provision` made its credentials (UTC).")
    homeassistant: bool = Field(False, description="May publish Home Assistant discovery.")

    @field_validator("site")
    @classmethod
    def _not_the_content_level(cls, site: str) -> str:
        if site == RESERVED_SITE:
            raise ValueError(f"'{RESERVED_SITE}' is reserved: <root>/{RESERVED_SITE}/... carries the content "
                             "announcements; give the site another name")
        return site

    @property
    def username(self) -> str:
        return username(self.site, self.device)


def username(site: str, device: str) -> str:
    """A kiosk's broker user name: names never hold '/', so no two devices share one."""
    return f"{site}/{device}"


class DevicesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    devices: list[Provisioned] = []


def load_devices(path: Path) -> list[Provisioned]:
    """The devices in `path`; none when it is missing or empty. ConfigError with
    file:line:col for what is wrong."""
    if not path.exists():
        return []
    document = yamlread.load(path, empty_ok=True)
    return [] if document.data is None else validation.validate(DevicesFile, document).devices


def save_devices(path: Path, devices: list[Provisioned]) -> None:
    """Atomically (write, then rename), sorted by site and device."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    ordered = sorted(devices, key=lambda d: (d.site, d.device))
    with open(temporary, "w") as handle:
        handle.write(yamlread.dump({"devices": [d.model_dump(mode="json") for d in ordered]}))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass
class Stranger:
    """An identity the fleet never provisioned that published under our root."""

    site: str
    device: str
    messages: int = 0
    first_seen: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    last_seen: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    last_kind: str = ""


class Identities:
    """The provisioned devices (re-read when the file changes) and the quarantine. Any
    thread may call it: paho's thread asks `admits`, the pages read `quarantined`."""

    def __init__(self, path: Path | None, clock=time.monotonic):
        self.path, self._clock = path, clock
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], Provisioned] = {}
        self._stamp: tuple[int, int] | None = None
        self._looked = -float("inf")
        self._strangers: dict[tuple[str, str], Stranger] = {}
        self.quarantined_messages = 0
        self.quarantined_unlisted = 0  # identities past QUARANTINE_MAX: counted only
        self._logged_at = -float("inf")
        self._unlogged = 0  # new strangers since the last line
        self._reload()

    @property
    def checking(self) -> bool:
        """True once at least one device is provisioned; before that the fleet runs open."""
        self._maybe_reload()
        return bool(self._known)

    def provisioned(self, site: str, device: str) -> Provisioned | None:
        self._maybe_reload()
        return self._known.get((site, device))

    def admits(self, site: str, device: str, kind: str) -> bool:
        """True for a provisioned device (or any, while the fleet runs open); a stranger is
        quarantined: counted, listed, and False."""
        self._maybe_reload()
        known = self._known
        if not known or (site, device) in known:
            return True
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            self.quarantined_messages += 1
            stranger = self._strangers.get((site, device))
            if stranger is None:
                self._unlogged += 1
                if len(self._strangers) < QUARANTINE_MAX:
                    stranger = self._strangers[(site, device)] = Stranger(site, device)
                else:
                    self.quarantined_unlisted += 1
            if stranger is not None:
                stranger.messages += 1
                stranger.last_seen, stranger.last_kind = now, kind
            log, self._unlogged = (self._unlogged, 0) if self._unlogged and \
                self._clock() - self._logged_at >= LOG_EVERY_S else (0, self._unlogged)
            if log:
                self._logged_at = self._clock()
        if log:
            logger.warning("quarantined %d new unknown identities (the latest: %s/%s, %s); they were never "
                           "provisioned; see the quarantine page", log, site, device, kind)
        return False

    def quarantined(self) -> list[Stranger]:
        """Most recently seen first."""
        with self._lock:
            return sorted(self._strangers.values(), key=lambda s: s.last_seen, reverse=True)

    def badge(self, site: str, device: str, now: dt.datetime | None = None) -> str | None:
        """What the pages say about a screen's identity: "new", "unverified" or None (known)."""
        if not self.checking:
            return "unverified"
        known = self.provisioned(site, device)
        if known is None:
            return "unknown"
        now = now or dt.datetime.now(dt.timezone.utc)
        provisioned = known.provisioned
        if not provisioned.tzinfo:
            provisioned = provisioned.replace(tzinfo=dt.timezone.utc)
        return "new" if now - provisioned < NEW_FOR else None

    def _maybe_reload(self) -> None:
        if self.path is None or self._clock() - self._looked < RELOAD_EVERY_S:
            return
        self._reload()

    def _reload(self) -> None:
        self._looked = self._clock()
        if self.path is None:
            return
        try:
            info = self.path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        try:
            devices = load_devices(self.path)
        except (SignageError, OSError) as exc:
            logger.error("%s; keeping the %d devices known before", exc, len(self._known))
            self._stamp = stamp
            return
        self._known, self._stamp = {(d.site, d.device): d for d in devices}, stamp
        with self._lock:  # a stranger provisioned since: out of quarantine
            for key in list(self._strangers):
                if key in self._known:
                    del self._strangers[key]
        logger.info("%d provisioned devices (%s)", len(devices), self.path)
