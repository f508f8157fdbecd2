"""The kiosk's releases from the fleet (signage/content/): the updater thread when
content.url is set, its announcements from MQTT, and what it reports to the main
thread (a refusal goes to status and `<root>/error`; an installed release clears it).
The playlist watcher plays what the updater swaps in: told to read it at once, as the
release may share every playlist file with the one before and differ only in media.

The content thread is watched like the others: one that died is started again (no
other thread touches the content folder meanwhile); one that hangs, in a read that
never returns, cannot be stopped from outside, so status says so and the systemd
watchdog (health.py) has the kiosk restarted."""

from __future__ import annotations

import json
import logging
import time
from typing import Callable, Iterator

from pydantic import ValidationError

from signage.config import Config
from signage.content.signing import public_key
from signage.content.updater import ContentInstalled, ContentRefused, ContentUpdater, Settings
from signage.kiosk.problems import Problems
from signage.wire.announcements import MAX_ANNOUNCEMENT_BYTES, ContentAnnouncement, content_topics
from signage.wire.messages import ContentState, fit

logger = logging.getLogger(__name__)

Event = ContentRefused | ContentInstalled
STOP_S = 2.0  # a reload waits this long for the content thread to end (the screen holds its picture)
STALE_S = 30.0  # status calls the content thread hung after this long without progress (beyond a download's quiet)


def changed(old: Config, new: Config) -> bool:
    """The content thread must be made again for `new` (a reload): what its settings come from changed."""
    def inputs(config: Config) -> tuple:
        return (config.content, config.content_folder, config.site, config.device, config.mqtt.topic_root,
                config.paths.last_good_playlist, config.display.max_image_pixels)
    return inputs(old) != inputs(new)


def settings_of(config: Config) -> Settings | None:
    content = config.content
    if content.url is None or content.public_key is None:
        return None
    return Settings(base_url=content.url, key=public_key(content.public_key), folder=config.content_folder,
                    site=config.site, device=config.device, budget_bytes=int(content.budget_mb * 1e6),
                    check_every=float(content.check_every), rate_bytes_s=content.rate_mb_s * 1e6,
                    last_good=config.paths.last_good_playlist, max_image_pixels=config.display.max_image_pixels)


class Releases:
    """Main thread, except `announced` (paho's thread) and `state` (any thread)."""

    def __init__(self, config: Config, problems: Problems, refuse: Callable[[str, str], None],
                 reload: Callable[[], None], clock: Callable[[], float] = time.monotonic):
        """`reload` asks the playlist watcher to read the playlists again: a release may change
        only media, whose new files the watcher (which watches the files it loaded) cannot see.
        `clock` times the content thread's progress."""
        self._problems, self._refuse, self._reload, self._clock = problems, refuse, reload, clock
        settings = settings_of(config)
        self.updater = self._made(settings) if settings is not None else None  # its folder is made at start
        self.topics = content_topics(config.mqtt.topic_root, config.site, config.device) if self.updater else ()
        self._hung = False  # said once per stretch
        self._retired_faults = 0  # of updaters replaced since the start
        self._draining: ContentUpdater | None = None  # a replaced one still in a read: the new one waits for it

    def make(self, config: Config) -> ContentUpdater | None:
        """The content thread `config` asks for, its folder made, not started (None: no content.url).
        OSError when the folder cannot be made."""
        settings = settings_of(config)
        if settings is None:
            return None
        made = self._made(settings)
        made.folder.prepare()
        return made

    def _made(self, settings: Settings) -> ContentUpdater:
        from signage.display.videoinfo import video_length

        return ContentUpdater(settings, video_length, clock=self._clock)

    def start(self) -> None:
        if self.updater is not None:
            self.updater.start()

    def stop(self) -> None:
        for updater in (self._draining, self.updater):
            if updater is not None:
                updater.stop()

    def replace(self, updater: ContentUpdater | None, config: Config) -> None:
        """A reload: the running content thread stops (a download resumes where it broke off)
        and `updater` (made by `make` for `config`) starts; if the old one is still in a read,
        the new one starts once it has ended (`watch`), as both would write the same folder."""
        old, self.updater = self.updater, updater
        self.topics = content_topics(config.mqtt.topic_root, config.site, config.device) if updater else ()
        for topic in ("content", "content thread"):  # the new settings may judge otherwise: it says again
            self._problems.clear(topic)
        self._hung = False
        if old is not None:
            if not old.stop(timeout=STOP_S):
                logger.warning("the content thread of the old settings is still in a read; the new one starts "
                               "once it ends")
                self._draining = old
            self._retired_faults += old.faults
        if updater is not None and self._draining is None:
            updater.start()

    def announced(self, topic: str, payload: bytes) -> None:
        """paho's thread: a release announcement (a hint; the manifest's signature decides)."""
        if self.updater is None or not payload:  # an empty retained message clears the topic
            return
        try:
            if len(payload) > MAX_ANNOUNCEMENT_BYTES:
                raise ValueError(f"{len(payload)} bytes; at most {MAX_ANNOUNCEMENT_BYTES}")
            announcement = ContentAnnouncement.model_validate(json.loads(payload))
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            logger.warning("ignored a malformed content announcement on %s: %s", topic, str(exc).splitlines()[0])
            return
        self.updater.announce(announcement.version)

    def events(self) -> Iterator[Event]:
        while self.updater is not None and not self.updater.events.empty():
            yield self.updater.events.get()

    def take(self, event: Event) -> None:
        if isinstance(event, ContentRefused):
            self._problems.set("content", f"content refused (the last good keeps playing): {event.reason}")
            self._refuse("content", event.reason)
        else:
            self._problems.clear("content")
            self._reload()

    def state(self) -> ContentState | None:
        if self.updater is None:
            return None
        fields = self.updater.state.fields()
        fields["reason"] = fit(fields["reason"], 300)
        return ContentState(**fields)

    def hung(self, stale: float) -> bool:
        """A content thread is stuck in a step, the running one or one a reload replaced (a
        dead one is `watch`'s to start again)."""
        return any(updater is not None and updater.hung(stale) for updater in (self._draining, self.updater))

    def watch(self, stale: float = STALE_S) -> None:
        """A loop step: a content thread that died starts again; one that hangs is a problem while it lasts."""
        if self._draining is not None and not self._draining.alive():
            self._draining = None
            if self.updater is not None:
                self.updater.start()
        updater = self.updater
        if updater is None:
            return
        if updater.ended:
            logger.error("the content thread died; starting it again")
            self.updater = self._made(updater.settings)
            self._retired_faults += updater.faults
            self.updater.start()
            return
        if self.hung(stale):
            if not self._hung:
                self._hung = True
                logger.error("the content thread made no progress for %.0f s beyond its download's own timeout "
                             "(a read that hangs?); the last good keeps playing", stale)
                self._problems.set("content thread", f"the content thread made no progress for {stale:.0f} s "
                                   "beyond its download's own timeout (a read that hangs?): the systemd watchdog "
                                   "restarts the kiosk")
        elif self._hung:
            self._hung = False
            logger.info("the content thread makes progress again")
            self._problems.clear("content thread")

    @property
    def faults(self) -> int:
        return self._retired_faults + (self.updater.faults if self.updater is not None else 0)
