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

logger = logging.getLogger(__name__)

RETRY_S = 30.0
HOLD_MAX = 10_000  # messages kept while there is no link (an interval's metrics and plays are a few)
_KEY = re.compile(r"^(mqtt(?:\.[a-z_]+)*|paths\.spool)\b")


def make(config: Config, on_command, privacy_on: bool, open_spool: bool = True):
    """A telemetry link for `config`, not started: nothing is sent, no thread runs (with
    open_spool=False not even the spool is opened: the pump opens it once started).
    Raises ConfigError when the configuration cannot make one (broker URL, TLS files)."""
    from signage.telemetry.mqtt import Telemetry
    from signage.wire.homeassistant import discovery

    telemetry = Telemetry(config.mqtt, config.site, config.device, config.paths.spool,
                          spool_max_bytes=int(config.paths.spool_max_mb * 1024 * 1024), on_command=on_command,
                          open_spool=open_spool)
    if config.mqtt.homeassistant:
        for topic, payload in discovery(telemetry.root, config.site, config.device, __version__,
                                        config.mqtt.discovery_prefix,
                                        switch=config.mqtt.commands.accept_unsigned).items():
            telemetry.publish_retained(topic, payload)
    telemetry.set_state("privacy", "ON" if privacy_on else "OFF")
    return telemetry


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

    def set_status(self, status: dict) -> None:
        """Nowhere to publish it: the link, once made, publishes the status of that moment."""

    def set_state(self, feature: str, value: str) -> None:
        self._states[feature] = value

    def state(self, feature: str) -> str | None:
        return self._states.get(feature)

    def health(self):
        from signage.telemetry.mqtt import Health

        # The held messages are "spool_held": accepted and not yet in the spool.
        return Health(broker=f"not started: {self.reason}", spool="not opened", spool_depth=0,
                      spool_dropped=self.dropped, held=len(self.held), held_dropped=self.dropped, pump_errors=0,
                      problem=f"telemetry not started: {self.reason}; retried every {RETRY_S:g} s")

    def alive(self, stale: float | None = None) -> bool:
        return True  # no thread to be stuck

    def stop(self, timeout: float = 3.0, clean: bool = True, final_status=None) -> None:
        """What it holds goes into the spool (the spool needs no link): the next start
        that makes the link sends it."""
        if not self.held:
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

    def _spool_held(self) -> None:
        from signage.telemetry.spool import Spool

        config = self.config
        if config is None:
            raise RuntimeError("no configuration to find the spool")
        root = f"{config.mqtt.topic_root}/{config.site}/{config.device}"
        spool = Spool(config.paths.spool, max_bytes=int(config.paths.spool_max_mb * 1024 * 1024))
        try:
            spool.put_many([(f"{root}/{kind}", json.dumps(message, separators=(",", ":")).encode(), 1, False)
                            for kind, message in self.held])
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


def start(kiosk, config: Config):
    """A started link for `config`; an `Unstarted` one (retried) when it cannot be made."""
    try:
        telemetry = make(config, kiosk.on_command, kiosk.privacy.on)
        telemetry.start()
    except Exception as exc:  # noqa: BLE001 - whatever the files break, the counts are kept
        logger.error("telemetry cannot start (%s); holding messages, retrying every %g s", exc, RETRY_S)
        return Unstarted(reason_of(exc), str(exc), kiosk.clock() + RETRY_S, config)
    return telemetry


def retry(kiosk) -> None:
    """A loop step: while the link is unstarted, try to make it every RETRY_S (one log
    line per distinct reason)."""
    waiting = kiosk.telemetry
    if not isinstance(waiting, Unstarted) or kiosk.clock() < waiting.retry_at:
        return
    waiting.retry_at = kiosk.clock() + RETRY_S  # whatever happens below, the next try is then
    try:
        telemetry = make(kiosk.config, kiosk.on_command, kiosk.privacy.on)
    except Exception as exc:  # noqa: BLE001 - still cannot: the next try in RETRY_S
        if str(exc) != waiting.detail:
            logger.error("telemetry still cannot start (%s); retrying every %g s", exc, RETRY_S)
            waiting.reason, waiting.detail = reason_of(exc), str(exc)
        return
    adopt(kiosk, telemetry)


def adopt(kiosk, telemetry) -> None:
    """`telemetry` (made, not started) becomes the kiosk's link, with what an unstarted
    one held. If it does not start, the kiosk goes on with an unstarted link (retried)."""
    previous = kiosk.telemetry
    try:
        telemetry.start()
    except Exception as exc:  # noqa: BLE001 - never a stopped link left in place: counts would be lost
        logger.error("telemetry cannot start (%s); holding messages, retrying every %g s", exc, RETRY_S)
        if not isinstance(previous, Unstarted):
            kiosk.telemetry = Unstarted(reason_of(exc), str(exc), kiosk.clock() + RETRY_S, kiosk.config)
        return
    if isinstance(previous, Unstarted):
        previous.hand_over(telemetry)
    elif previous is not None:  # status counts faults since start: the old link's stay counted
        kiosk.retired_faults += previous.health().pump_errors
    kiosk.telemetry = telemetry
    logger.info("telemetry link started")
    kiosk.publish_status(force=True)


def stop(telemetry, final_status: Callable[[], dict], clean: bool) -> None:
    """Drain, publish the true final status, then `stopped` (clean) or nothing (the
    broker's will says `offline` for a crash)."""
    telemetry.stop(timeout=2.0, final_status=final_status, clean=clean)
