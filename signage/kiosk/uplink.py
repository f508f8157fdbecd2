"""The kiosk's telemetry link: made for a configuration (with Home Assistant discovery
and the privacy state to publish), started, and stopped with the true final status.

A link that cannot be made (a CA file that is not a certificate, a key that does not
load) is no reason to lose the counts: the kiosk then runs with an `Unstarted` link that
holds what is sent, bounded and counted, says why in status, and is retried every
RETRY_S (a file fixed at the same path is picked up without a SIGHUP)."""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from typing import Callable

from signage import __version__
from signage.config import Config
from signage.wire.commands import Command
from signage.wire.messages import Message
from signage.telemetry.mqtt import Health, Telemetry
from signage.telemetry.spool.heldrows import HeldRows

logger = logging.getLogger(__name__)

RETRY_S = 30.0
HOLD_MAX = 10_000  # messages kept while there is no link (an interval's metrics and plays are a few)
_KEY = re.compile(r"^(mqtt(?:\.[a-z_]+)*|paths\.spool)\b")


def reason_of(exc: Exception) -> str:
    """Why a link cannot be made, for status: the key and the kind of fault, never the
    message (it names files and quotes what the TLS library read in them)."""
    match = _KEY.match(str(exc))
    return f"{match.group(1) if match else 'mqtt'}: the link cannot be made ({type(exc).__name__}; the log says why)"


class Unstarted:
    """The link while none can be made: what is sent is held (the newest HOLD_MAX, the
    rest counted as dropped) and handed to the link once it is made."""

    def __init__(self, reason: str, detail: str, retry_at: float, config: Config | None = None):
        self.reason, self.detail, self.retry_at, self.config = reason, detail, retry_at, config
        self.held: deque[tuple[str, dict]] = deque()
        self.kept: HeldRows | None = None  # the held proof of play, written with `held` at a stop
        self.dropped = 0
        self._states: dict[str, str] = {}

    def send(self, kind: str, message: dict) -> None:
        self.held.append((kind, message))
        while len(self.held) > HOLD_MAX:
            self.held.popleft()
            if not self.dropped:
                logger.error("no telemetry link: holding the newest %d messages, dropping older ones (counted in "
                             "status)", HOLD_MAX)
            self.dropped += 1

    def keep_held(self, body: HeldRows) -> None:
        self.kept = body

    def read_held(self) -> HeldRows | None:
        """The held proof of play in the spool at the configured path (opened for this)."""
        spool = self._open_spool()
        try:
            return spool.held()
        finally:
            spool.close()

    def due(self, now: float) -> bool:
        """Time to try again (the next try is then RETRY_S later, whatever happens)."""
        if now < self.retry_at:
            return False
        self.retry_at = now + RETRY_S
        return True

    def still_failing(self, exc: Exception) -> None:
        """Tried again, in vain: one log line per distinct reason."""
        if str(exc) != self.detail:
            logger.error("telemetry still cannot start (%s); retrying every %g s", exc, RETRY_S)
            self.reason, self.detail = reason_of(exc), str(exc)

    def set_status(self, status: dict) -> None:
        """Nowhere to publish it: the link, once made, publishes the status of that moment."""

    def set_state(self, feature: str, value: str) -> None:
        self._states[feature] = value

    def state(self, feature: str) -> str | None:
        return self._states.get(feature)

    def health(self) -> Health:
        # The held messages are "spool_held": accepted and not yet in the spool.
        return Health(broker=f"not started: {self.reason}", spool="not opened", spool_depth=0,
                      spool_dropped=self.dropped, held=len(self.held), held_dropped=self.dropped, pump_errors=0,
                      problem=f"telemetry not started: {self.reason}; retried every {RETRY_S:g} s")

    def alive(self, stale: float | None = None) -> bool:
        return True  # no thread to be stuck

    def stop(self, timeout: float = 3.0, clean: bool = True, final_status=None) -> None:
        """What it holds goes into the spool (the spool needs no link): the next start
        that makes the link sends it."""
        if not self.held and self.kept is None:
            return
        try:
            self._spool_held()
        except Exception as exc:  # noqa: BLE001 - a spool that cannot be written either: say what is lost
            logger.error("stopping with no telemetry link and no spool (%s): %d messages are lost",
                         exc, len(self.held))
            return
        logger.warning("stopping with no telemetry link: %d messages written to the spool, sent once the "
                       "link is made", len(self.held))
        self.held.clear()

    def _open_spool(self):
        from signage.telemetry.spool import Spool

        if self.config is None:
            raise RuntimeError("no configuration to find the spool")
        return Spool(self.config.paths.spool, max_bytes=int(self.config.paths.spool_max_mb * 1024 * 1024))

    def _spool_held(self) -> None:
        config = self.config
        assert config is not None, "_open_spool checked it"
        spool = self._open_spool()
        root = f"{config.mqtt.topic_root}/{config.site}/{config.device}"
        try:  # the held proof of play in the same transaction as the messages released before it
            spool.write([(f"{root}/{kind}", json.dumps(message, separators=(",", ":")).encode(), 1, False)
                         for kind, message in self.held], (), self.kept)
        finally:
            spool.close()

    def hand_over(self, link) -> None:
        """What it holds, into the link that was made at last (started or not: it holds too)."""
        for kind, message in self.held:
            link.send(kind, message)
        for feature, value in self._states.items():
            link.set_state(feature, value)
        if self.held:
            logger.info("telemetry link made: %d held messages handed over", len(self.held))
        self.held.clear()


class Uplink:
    """The kiosk's telemetry link, whichever it is now: none before the start, a started
    `Telemetry`, or an `Unstarted` one while none can be made (retried every RETRY_S).
    Everything the kiosk sends, echoes and refuses goes through here, and a reload hands
    it the new link. Main thread only (`on_command` is called on paho's thread)."""

    def __init__(self, on_command: Callable[[Command], str | None], clock: Callable[[], float],
                 on_announcement: Callable[[str, bytes], None] | None = None):
        """`on_announcement`: content release announcements (paho's thread), when content.url is set."""
        self._on_command, self._clock, self._on_announcement = on_command, clock, on_announcement
        self.link: Telemetry | Unstarted | None = None
        self._kept: HeldRows | None = None  # the held proof of play last kept: each new link is given it
        self.retired_faults = 0  # pump faults of the links replaced (status counts since the start)

    @property
    def unstarted(self) -> bool:
        return isinstance(self.link, Unstarted)

    def make(self, config: Config, privacy_on: bool, open_spool: bool = True) -> Telemetry:
        """A link for `config`, not started: nothing is sent, no thread runs (with
        open_spool=False not even the spool is opened: the pump opens it once started),
        with Home Assistant discovery and the privacy state to publish. Raises
        ConfigError when the configuration cannot make one (broker URL, TLS files)."""
        from signage.wire.homeassistant import discovery
        from signage.wire.announcements import content_topics

        announcements = content_topics(config.mqtt.topic_root, config.site, config.device) \
            if config.content.url is not None and self._on_announcement is not None else ()
        telemetry = Telemetry(config.mqtt, config.site, config.device, config.paths.spool,
                              spool_max_bytes=int(config.paths.spool_max_mb * 1024 * 1024),
                              on_command=self._on_command, open_spool=open_spool,
                              announcements=announcements, on_announcement=self._on_announcement)
        if config.mqtt.homeassistant:
            for topic, payload in discovery(telemetry.root, config.site, config.device, __version__,
                                            config.mqtt.discovery_prefix,
                                            switch=config.mqtt.commands.accept_unsigned).items():
                telemetry.publish_retained(topic, payload)
        telemetry.set_state("privacy", "ON" if privacy_on else "OFF")
        return telemetry

    def start(self, config: Config, privacy_on: bool) -> None:
        """At boot: a started link for `config`, else an `Unstarted` one (retried). Never raises."""
        try:
            telemetry = self.make(config, privacy_on)
            telemetry.start()
        except Exception as exc:  # noqa: BLE001 - whatever the files break, the counts are kept
            logger.error("telemetry cannot start (%s); holding messages, retrying every %g s", exc, RETRY_S)
            self.link = Unstarted(reason_of(exc), str(exc), self._clock() + RETRY_S, config)
            self._give_kept()
            return
        self.link = telemetry
        self._give_kept()

    def retry(self, config: Config, privacy_on: bool) -> bool:
        """A loop step: while the link is unstarted, try to make it every RETRY_S (one log
        line per distinct reason). True when a link started."""
        waiting = self.link
        if not isinstance(waiting, Unstarted) or not waiting.due(self._clock()):
            return False
        try:
            telemetry = self.make(config, privacy_on)
        except Exception as exc:  # noqa: BLE001 - still cannot: the next try in RETRY_S
            waiting.still_failing(exc)
            return False
        return self.adopt(telemetry, config)

    def adopt(self, telemetry: Telemetry, config: Config) -> bool:
        """`telemetry` (made, not started) becomes the link, with what an unstarted one
        held; True once started. If it does not start, an unstarted link (retried) holds
        what is sent meanwhile: never a stopped link, to which counts would be lost."""
        previous = self.link
        try:
            telemetry.start()
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the counts are kept
            logger.error("telemetry cannot start (%s); holding messages, retrying every %g s", exc, RETRY_S)
            if not isinstance(previous, Unstarted):
                self.link = Unstarted(reason_of(exc), str(exc), self._clock() + RETRY_S, config)
                self._give_kept()
            return False
        if isinstance(previous, Unstarted):
            previous.hand_over(telemetry)
        elif previous is not None:
            self.retired_faults += previous.health().pump_errors
        self.link = telemetry
        self._give_kept()  # after what the previous link held: the spool writes it with those
        logger.info("telemetry link started")
        return True

    def hand_over_to(self, successor: Telemetry, final_status: Callable[[], dict]) -> None:
        """A reload: what the started link cannot save, and its spool's unsent rows, go on
        to `successor` (made, not started); then it stops with its true final status."""
        if self.link is None or isinstance(self.link, Unstarted):
            return
        self.link.hand_over_to(successor)
        self.stop(final_status, clean=True)

    def stop(self, final_status: Callable[[], dict], clean: bool) -> None:
        """Drain, publish the true final status, then `stopped` (clean) or nothing (the
        broker's will says `offline` for a crash)."""
        if self.link is not None:
            self.link.stop(timeout=2.0, final_status=final_status, clean=clean)

    # ----- what the kiosk sends -----------------------------------------------------------------

    def send(self, kind: str, message: Message) -> None:
        if self.link is not None:
            self.link.send(kind, message.payload())  # never raises: the link holds what it cannot spool

    def keep_held(self, body: HeldRows) -> None:
        """The proof of play the kiosk holds back, to keep in the spool (telemetry/held.py)."""
        self._kept = body
        self._give_kept()

    def read_held(self) -> HeldRows | None:
        """At boot: the held proof of play the spool has, None when none. Raises a
        SpoolFault, or RuntimeError when there is no link yet."""
        if self.link is None:
            raise RuntimeError("no telemetry link yet")
        return self.link.read_held()

    def _give_kept(self) -> None:
        if self.link is not None and self._kept is not None:
            self.link.keep_held(self._kept)

    def set_status(self, status: dict) -> None:
        if self.link is not None:
            self.link.set_status(status)

    def set_state(self, feature: str, value: str) -> None:
        if self.link is not None:
            self.link.set_state(feature, value)

    def state(self, feature: str) -> str | None:
        return self.link.state(feature) if self.link is not None else None

    def refuse(self, command: Command | str, reason: str) -> None:
        if isinstance(self.link, Telemetry):  # an unstarted link receives no commands to refuse
            self.link.refuse(command, reason)

    # ----- health -------------------------------------------------------------------------------

    def health(self) -> Health | None:
        """The link's health snapshot; None before the start."""
        return self.link.health() if self.link is not None else None

    def alive(self, stale: float) -> bool:
        return self.link is None or self.link.alive(stale)
