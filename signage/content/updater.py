"""The kiosk's content updater: its own supervised thread, at a low priority and a
capped rate, that looks for a newer release (every content.check_every seconds, and
at once when MQTT announces one: a wake-up only, the server's `latest` names what to
fetch), verifies it, downloads what it lacks, stages and checks it, and swaps it in.
The playlist watcher then plays it; until then, and whenever a release is refused, the
last good keeps playing.

Threads: the updater thread alone owns the content folder and the download. Any thread
may read `state` (an immutable snapshot, replaced whole) and call `announce` (paho's
thread). What the main thread must act on (a refusal, for status and `<root>/error`)
comes through `events`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from signage.clock import utc_iso
from signage.content.fetch import CHUNK, BrokeOff, Fetcher, FetchFailed, Stopped
from signage.content.install import ContentFolder, InstallRefused
from signage.content.manifest import MAX_MANIFEST_BYTES, parse
from signage.content.signing import PublicKey, SignatureRefused, check
from signage.content.verify import Accepted, ReleaseRefused, Rollback, accept, expired, rollback_reason
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.loader import VideoLength
from signage.threads import SupervisedThread

logger = logging.getLogger(__name__)

NICE = 10  # below the screen's threads: the download waits, a video frame does not
LATEST_BYTES = 32
MAX_REFUSED = 100  # versions remembered as refused for good
RETRY_S = 60.0  # after a download broke off, or a clock not set yet


@dataclass(frozen=True)
class Rollout:
    """What status says of the content (wire/messages.py ContentState)."""

    state: str = "none"
    version: int | None = None
    target: str | None = None
    next_version: int | None = None
    done_bytes: int = 0
    total_bytes: int = 0
    reason: str | None = None

    def fields(self) -> dict:
        return {"state": self.state, "version": self.version, "target": self.target,
                "next_version": self.next_version, "done_bytes": self.done_bytes, "total_bytes": self.total_bytes,
                "reason": self.reason}


class AlreadyRefused(Exception):
    """The manifest the server offers is the very one refused for good before: nothing new to say."""


class NoSuchRelease(Exception):
    """The server answers 404 for a version's manifest."""


@dataclass(frozen=True)
class ContentRefused:
    version: int | None
    reason: str


@dataclass(frozen=True)
class ContentInstalled:
    version: int
    target: str


@dataclass(frozen=True)
class Settings:
    base_url: str
    key: PublicKey
    folder: Path
    site: str
    device: str
    budget_bytes: int
    check_every: float
    rate_bytes_s: float
    last_good: Path | None = None
    max_image_pixels: int = DEFAULT_MAX_PIXELS


class ContentUpdater:
    def __init__(self, settings: Settings, video_length: VideoLength, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic):
        self.settings, self._video_length, self._wall = settings, video_length, wall
        self._stopping = threading.Event()
        self.fetcher = Fetcher(settings.base_url, settings.rate_bytes_s, self._stopping)
        # A step beats with every chunk; between two, a read may wait the fetch's timeout and the rate cap its pause.
        self._quiet_s = self.fetcher.timeout + CHUNK / settings.rate_bytes_s
        self.folder = ContentFolder(settings.folder, settings.budget_bytes, settings.last_good)
        self.events: queue.Queue[ContentRefused | ContentInstalled] = queue.Queue()
        self.state = Rollout()
        self._lock = threading.Lock()  # paho's thread sets _announced, the updater's drops it
        self._announced: int | None = None  # the newest version MQTT announced, until the server denies it
        # Releases refused for good: version -> (why, the manifest's fingerprint). Only that
        # manifest stays refused: a server that served garbage under a number cannot make
        # the screen skip the real release published under it later.
        self._refused: dict[int, tuple[str, str | None]] = {}
        self._offered: str | None = None  # the fingerprint of the manifest being looked at
        self._resuming: int | None = None  # a version whose download broke off: tried again soon
        self._thread = SupervisedThread("content", self.step, settings.check_every, clock=clock)
        self._niced = False
        self._retry: threading.Timer | None = None  # wakes the thread after a failure that may pass
        self._retry_s = min(RETRY_S, settings.check_every)

    # ----- any thread ---------------------------------------------------------------------------

    def announce(self, version: int) -> None:
        """MQTT says release `version` is out: look now (the server's `latest` says what to fetch)."""
        with self._lock:
            if self._announced is None or version > self._announced:
                self._announced = version
        self._thread.wake()

    def start(self) -> None:
        self.folder.prepare()
        self._boot_state()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        self._stopping.set()
        if self._retry is not None:
            self._retry.cancel()
        return self._thread.stop(timeout)

    def alive(self, stale: float | None = None) -> bool:
        return self._thread.alive(stale)

    def hung(self, stale: float) -> bool:
        """One step has made no progress for `stale` seconds plus what a download may spend
        quietly (the fetch's timeout, the rate cap's pause)."""
        return self._thread.stuck(stale + self._quiet_s)

    @property
    def ended(self) -> bool:
        """The thread died (not stopped): an exception the fault barrier does not catch."""
        return self._thread.ended

    @property
    def faults(self) -> int:
        return self._thread.errors

    # ----- the updater thread --------------------------------------------------------------------

    def _boot_state(self) -> None:
        active = self.folder.active()
        if active is None:
            return
        accepted = self._installed(active)
        target = accepted.manifest.target_for(self.settings.site, self.settings.device) if accepted else None
        self._settle(Rollout("active", active, target))

    def _installed(self, version: int) -> Accepted | None:
        """The installed release's manifest, its signature checked again (the disk is not trusted either)."""
        stored = self.folder.manifest_of(version)
        if stored is None:
            return None
        try:
            check(self.settings.key, stored[0], stored[1])
            manifest = parse(stored[0])
        except (SignatureRefused, ValueError):
            return None
        target = manifest.target_for(self.settings.site, self.settings.device)
        return Accepted(manifest, target, stored[0]) if target else None

    def step(self) -> None:
        if not self._niced:
            self._niced = True
            try:  # Linux: a thread's own nice value
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
            except OSError as exc:
                logger.info("the content thread keeps its priority (%s)", exc)
        try:
            self._look()
        finally:  # a screen that cannot move forward still says its release expired
            self._settle(self.state)

    def _look(self) -> None:
        active = self.folder.active()
        version, announced = self._wanted()
        if active is not None and version is not None and version < active and announced is None:
            self._rollback(version, active)  # the server's latest replays the past
            return
        if version is None or (active is not None and version <= active):
            if active is not None and self.state != self._playing():  # nothing newer (any more): what plays, as it is
                self._settle(self._playing())
            return
        before = self.state
        try:
            self._take(version, active)
        except AlreadyRefused:
            return  # said once, in status; a newer version (or another manifest) is looked at when it comes
        except Stopped:
            logger.info("content download of version %s paused: the kiosk is stopping", version)
        except BrokeOff as exc:
            self._broke_off(version, exc)
        except Rollback as exc:  # a newer number, an older signed release behind it
            self._rollback(exc.offered, exc.active)
        except ReleaseRefused as exc:
            self._refuse(version, str(exc), final=exc.final)
        except NoSuchRelease as exc:
            if version == announced:  # a forged or stale announcement: not waited for
                self._drop_announced(version, f"the server has no version {version}")
                self._settle(before)
            else:  # the server's own latest names it: a server half-updated, tried again
                self._refuse(version, str(exc), final=False)
        except FetchFailed as exc:
            self._refuse(version, str(exc), final=exc.final)
        except InstallRefused as exc:
            self._refuse(version, str(exc), final=True)

    def _wanted(self) -> tuple[int | None, int | None]:
        """The version to look at, and the announced one if that is where it comes from.
        The server's `latest` decides; an announcement only wakes the thread, and its number
        is used only while `latest` cannot be read, so a broker cannot hold a screen on a
        version that never comes (TUF's freeze attack)."""
        try:
            latest: int | None = int(self._small(self.fetcher, "latest", LATEST_BYTES).strip())
        except (FetchFailed, ValueError) as exc:
            latest, why = None, exc
        announced = self._announced
        if latest is not None:
            if announced is not None and announced > latest:
                self._drop_announced(announced, f"the server's latest is {latest}")
            return latest, None
        if announced is None and self._resuming is None:
            logger.info("no newer content known: %s", why)
        candidates = [v for v in (announced, self._resuming) if v is not None]
        version = max(candidates) if candidates else None
        return version, (announced if version == announced else None)

    def _drop_announced(self, version: int, why: str) -> None:
        with self._lock:
            if self._announced == version:  # paho may have announced a newer one meanwhile
                self._announced = None
        logger.warning("content version %d was announced, but %s: the announcement is dropped", version, why)

    def _playing(self) -> Rollout:
        """The state of the release playing, nothing newer in view."""
        return replace(self.state, state="active", next_version=None, reason=None, done_bytes=0, total_bytes=0)

    def _rollback(self, offered: int, active: int) -> None:
        """An older release offered: refused, and status says so while it is offered; not
        remembered, so the server's next real release is taken as soon as it names it."""
        reason = rollback_reason(offered, active)
        if self.state.reason is None or reason not in self.state.reason:  # logged once while it lasts
            logger.warning("content refused: %s; the release playing stays", reason)
        self._settle(replace(self._playing(), reason=reason))

    def _settle(self, state: Rollout) -> None:
        """`state` becomes the status; `expired` instead when the release playing is past its
        expiry and nothing newer is on its way (what holds it back kept in the reason)."""
        if state.state not in ("none", "downloading", "expired") and state.version is not None:
            accepted = self._installed(state.version)
            if accepted is not None and expired(accepted.manifest, self._wall()):
                held = state.reason or f"version {state.next_version} is not taken yet"
                why = "the fleet has published nothing newer (publish again to renew it)" \
                    if state.state == "active" and state.reason is None else f"nothing newer was taken: {held}"
                state = replace(state, state="expired", reason=f"version {state.version} expired; {why}")
        self.state = state

    def _take(self, version: int, active: int | None) -> None:
        # Status changes only once the signed manifest is taken: a release refused at its manifest
        # (a replay, an expired one) leaves it as it was, with no passing `pending`.
        path = f"{version}/manifest"
        self._offered = None
        try:
            data = self._small(self.fetcher, f"{path}.json", MAX_MANIFEST_BYTES)
        except FetchFailed as exc:
            if exc.missing:
                raise NoSuchRelease(str(exc)) from None
            raise
        signature = self._small(self.fetcher, f"{path}.sig", 1024)
        self._offered = hashlib.sha256(len(data).to_bytes(8, "big") + data + signature).hexdigest()
        refused = self._refused.get(version)
        if refused is not None and refused[1] in (self._offered, None):
            raise AlreadyRefused()
        settings = self.settings
        accepted = accept(data, signature, settings.key, site=settings.site, device=settings.device, active=active,
                          now=self._wall(), budget_bytes=settings.budget_bytes)
        version = accepted.manifest.version
        target = accepted.files
        need = self.folder.need(target)
        self.folder.make_room(target, need)
        self.state = replace(self.state, state="downloading", next_version=version, reason=None,
                             done_bytes=self.folder.partial_bytes(need), total_bytes=need.bytes)
        source, prefix = self.fetcher, "objects/"
        if accepted.manifest.objects_url is not None:  # another host the signed manifest names
            source, prefix = Fetcher(accepted.manifest.objects_url, settings.rate_bytes_s, self._stopping), ""
        for digest, (_, size) in need.files.items():
            source.file(f"{prefix}{digest}", self.folder.partial / digest, size, digest, self._progress)
            self.folder.adopt_object(digest)
        self._thread.beat()  # the files are here: checking them is a new stretch of work
        self.folder.stage(version, target, video_length=self._video_length,
                          max_image_pixels=settings.max_image_pixels)
        self.folder.swap(version, data, signature)
        self.folder.clean()
        self._resuming = None
        self.state = Rollout("active", version, accepted.target)
        self.events.put(ContentInstalled(version, accepted.target))
        logger.info("content version %d (%s) installed", version, accepted.target)

    def _small(self, fetcher: Fetcher, path: str, limit: int) -> bytes:
        data = fetcher.small(path, limit)
        self._thread.beat()
        return data

    def _progress(self, count: int) -> None:
        self._thread.beat()
        self.state = replace(self.state, done_bytes=self.state.done_bytes + count)

    def _refuse(self, version: int, reason: str, final: bool) -> None:
        """A refusal says why in status; a final one is not tried again, a passing one
        (the network) is, at the next look."""
        text = f"version {version}: {reason}" if not reason.startswith("version") else reason
        if final:
            self._resuming = None
            self._refused[version] = (text, self._offered)
            while len(self._refused) > MAX_REFUSED:  # the oldest first: only new versions are asked about
                del self._refused[min(self._refused)]
            logger.error("content refused: %s; the last good keeps playing", text)
            self.events.put(ContentRefused(version, text))
            self._settle(replace(self.state, state="refused", next_version=version, reason=text))
        else:
            logger.warning("content not fetched yet: %s; trying again in %g s", text, self._retry_s)
            self._settle(replace(self.state, state="pending", next_version=version, reason=text))
            self._retry_soon()

    def _broke_off(self, version: int, exc: BrokeOff) -> None:
        """This attempt is refused, and says so; the version is not: what arrived is kept and
        the next try, soon, asks for the rest."""
        self._resuming = version
        when = utc_iso(dt.datetime.fromtimestamp(self._wall() + self._retry_s, dt.timezone.utc))
        text = (f"version {version}: {exc}; the download resumes from byte {exc.have} at the next try, "
                f"in {self._retry_s:g} s ({when})")
        logger.warning("content download refused for now: %s", text)
        self._settle(replace(self.state, state="refused", next_version=version, reason=text))
        self._retry_soon()

    def _retry_soon(self) -> None:
        """A download that broke off is resumed sooner than at the next regular look."""
        if self._retry is not None and self._retry.is_alive():
            return
        self._retry = threading.Timer(self._retry_s, self._thread.wake)
        self._retry.daemon = True
        self._retry.start()
