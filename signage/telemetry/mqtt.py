"""The kiosk's telemetry over MQTT: `Telemetry`, the one object the kiosk talks to.

What `send` promises: it never raises and never blocks on the disk. Unlike Frigate we
never drop a message while disconnected: metrics and plays join the hold (hold.py), the
pump writes them into the on-disk spool in one fsync'd transaction per step (group
commit) and hands them to the broker, and a message leaves the spool only when the broker
acknowledges it (PUBACK). While the spool cannot take messages (disk full, I/O error, no
usable file) the hold keeps them, bounded and counted, and they are published straight
from memory once the spool's own rows are out. A message may be delivered twice
(consumers deduplicate on `id`); one is lost only when the hold overflows or the process
ends with the disk still full, and both are counted and logged.

The parts, one job each, along their threads:
- the link (link.py, paho's network thread): the connection, what is in flight, the
  retained status, state echoes and discovery;
- the hold (hold.py, any thread): accepted, not yet in the spool;
- the pump (pump.py, our thread) with the spool keeper (keeper.py): store, publish,
  rebuild, copy a reload's previous spool;
- the command inbox (dispatcher.py, paho's thread): topic -> handler -> state echo or
  refusal with a reason.

A reload hands what the old link could not save, and the unsent rows of its spool file
when the new link uses another, to the new link (`hand_over_to`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signage.config import MqttConfig
from signage.telemetry.dispatcher import Dispatcher, Handler
from signage.telemetry.hold import Held, Hold
from signage.telemetry.inbox import Inbox
from signage.telemetry.keeper import SpoolKeeper
from signage.telemetry.link import Link
from signage.telemetry.pump import Pump
from signage.telemetry.spool import Spool, SpoolUnavailable
from signage.telemetry.spool.heldrows import HeldRows
from signage.wire.commands import Command

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    """What status needs to know about telemetry, one consistent snapshot."""

    broker: str  # "connected", "connecting", "stopped", or why not connected
    spool: str  # "ok", "recovered: ...", "disk full: ...", "error: ...", "unusable: ..."
    spool_depth: int  # messages in the spool file
    spool_dropped: int  # dropped, oldest first: spool at its size cap, or memory hold overflowing
    held: int  # accepted by send() and not yet in the spool
    held_dropped: int  # of spool_dropped, those the memory hold had to drop
    pump_errors: int  # unexpected exceptions the pump survived
    problem: str | None  # one line for status' last_error, None when all is well

    def status_fields(self) -> dict:
        """The fields of the Status message that telemetry owns."""
        return {"broker": self.broker, "spool": self.spool, "spool_depth": self.spool_depth,
                "spool_held": self.held, "spool_dropped": self.spool_dropped}


class Telemetry:
    def __init__(self, config: MqttConfig, site: str, device: str, spool: Spool | Path | str,
                 on_command: Handler | None = None, client_id: str | None = None,
                 spool_max_bytes: int = 64 << 20, hold_max: int = 10_000, hold_max_bytes: int = 16 << 20,
                 clock: Callable[[], float] = time.monotonic, open_spool: bool = True,
                 announcements: tuple[str, ...] = (), on_announcement: Callable[[str, bytes], None] | None = None):
        """open_spool=False leaves the spool file to the pump, opened when started: a
        reload makes the new link while the old one still owns the same file. Messages on
        `announcements` (content releases) go to `on_announcement`, on paho's thread. Raises
        ConfigError when the settings cannot make a client (broker URL, TLS files)."""
        self.site, self.device = site, device
        self.root = f"{config.topic_root}/{site}/{device}"
        self._clock = clock
        self._hold = Hold(hold_max, hold_max_bytes)
        self._announcements, self._on_announcement = frozenset(announcements), on_announcement
        self._link = Link(config, self.root, client_id or f"signage-{site}-{device}",
                          on_message=self._receive, wake=self._wake_pump, subscriptions=tuple(announcements))
        self._inbox = Dispatcher(Inbox(self.root, config.commands), on_command, site, device,
                                 echo=self.set_state, publish=self._link.publish)
        keeper = SpoolKeeper(spool, spool_max_bytes, clock, on_new_spool=self._link.forget_spool_rows)
        self._pump = Pump(self._link, self._hold, keeper, chores=self._inbox.flush, clock=clock)
        self._successor: Telemetry | None = None  # a reload's new link: takes what stop() could not save
        self._final_broker: str | None = None
        if keeper.spool is None and open_spool:  # last: nothing above may fail with the file open
            keeper.open()

    # ----- state other threads read -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def last_error(self) -> str | None:
        return self._link.error

    @property
    def client(self):
        """The paho client (for a test that looks at the connection itself)."""
        return self._link.client

    @property
    def spool(self) -> Spool | None:
        """The spool file (None while it cannot be opened). Owned by the pump while it runs."""
        return self._pump.keeper.spool

    @property
    def commands_refused(self) -> int:
        """Commands refused since this link started (each told, or counted in a summary)."""
        return self._inbox.refused

    @property
    def commands_received(self) -> int:
        """Messages on this device's command topics since this link started."""
        return self._inbox.received

    def health(self) -> Health:
        """What status needs, as one snapshot (cheap: no query)."""
        keeper, pump = self._pump.keeper, self._pump
        held, held_dropped = len(self._hold), self._hold.dropped
        spool, outage, spool_state = keeper.spool, keeper.outage, keeper.state()
        if self._final_broker is not None:
            broker = self._final_broker
        elif self._link.connected:
            broker = "connected"
        else:
            broker = self._link.error or "connecting"
        problem = None
        if outage is not None:
            # No counts here: this line changes only with the state (counts are in spool_held
            # and spool_dropped), so status logs it once.
            problem = f"spool: {spool_state}; messages wait in memory" + \
                      ("; the oldest are being dropped" if held_dropped else "")
        elif held_dropped:
            problem = "telemetry: messages were dropped while the spool could not take them (see spool_dropped)"
        elif pump.last_error:
            problem = f"telemetry: {pump.last_error}"
        return Health(broker=broker, spool=spool_state, spool_depth=spool.depth if spool else 0,
                      spool_dropped=(spool.dropped if spool else 0) + held_dropped, held=held,
                      held_dropped=held_dropped, pump_errors=pump.errors, problem=problem)

    def alive(self, stale: float | None = None) -> bool:
        """The pump runs and, given `stale`, no single step has taken longer than that."""
        return self._pump.alive(stale)

    # ----- what the kiosk sends ------------------------------------------------------------------

    def send(self, kind: str, message: dict) -> None:
        """A metrics or play message (QoS 1): held, spooled, sent when the broker is there.
        Never raises."""
        try:
            payload = json.dumps(message, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            logger.error("a %s message cannot be encoded as JSON (%s); not sent", kind, exc)
            return
        self._hold.add(f"{self.root}/{kind}", payload, qos=1)
        self._pump.wake()

    def keep_held(self, body: HeldRows) -> None:
        """The proof of play the kiosk holds back (telemetry/held.py), written into the spool
        with the messages sent before it. Never raises."""
        self._hold.keep(body)
        self._pump.wake()

    def read_held(self) -> HeldRows | None:
        """The held proof of play the spool has (at boot, before anything is kept); None
        when there is none. Raises a SpoolFault (SpoolUnavailable when it is not open)."""
        spool = self._pump.keeper.spool
        if spool is None:
            raise SpoolUnavailable(f"the spool {self._pump.keeper.path} is not open")
        return spool.held()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything sent so far is in the spool (durable) or delivered;
        False if the timeout came first (e.g. the disk is full)."""
        deadline = self._clock() + timeout
        while len(self._hold) or self._hold.kept:
            if self._clock() >= deadline or not self._pump.alive():
                return False
            self._pump.wake()
            time.sleep(0.005)
        return True

    def set_status(self, status: dict) -> None:
        """The retained status: published now if connected, and on every connect."""
        self._link.set_status(json.dumps(status, separators=(",", ":")).encode())

    def set_state(self, feature: str, value: str) -> None:
        """Echo a feature's value, retained, on <root>/<feature>/state."""
        self._link.publish_retained(f"{self.root}/{feature}/state", value.encode())

    def state(self, feature: str) -> str | None:
        """The value last echoed on <root>/<feature>/state, if any (any thread)."""
        value = self._link.retained(f"{self.root}/{feature}/state")
        return value.decode() if value is not None else None

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """A retained message, kept and republished on every connect (also outside our root:
        Home Assistant discovery)."""
        self._link.publish_retained(topic, payload)

    def refuse(self, command: Command | str, reason: str) -> None:
        """Answer a command on `<root>/error` (any thread): it changed nothing, and why.
        Throttled (refusals.py): a flood costs a few lines and messages a minute."""
        self._inbox.refuse(command, reason)

    # ----- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._link.start()
        self._pump.start()

    def hand_over_to(self, successor: Telemetry) -> None:
        """A reload replaces this link with `successor` (made, not yet started): when this
        one stops, what it holds and could not save goes to the successor's hold, and when
        the successor uses another spool file, the rows left in ours are copied into it.
        Nothing is logged as lost that the new link can still send."""
        self._successor = successor

    def adopt_held(self, messages: list[Held]) -> None:
        """Messages another link accepted and could not save, oldest first: held here as if
        sent here (same topics and payloads, so the same ids: a duplicate at worst)."""
        self._hold.adopt(messages)
        if messages:
            self._pump.wake()

    def adopt_spool_rows(self, path: str) -> None:
        """The rows still in another spool file (a reload changed paths.spool) are copied
        into ours by the pump, then deleted there."""
        if self._pump.keeper.adopt_rows_of(path):
            self._pump.wake()

    def stop(self, timeout: float = 3.0, clean: bool = True,
             final_status: Callable[[], dict] | None = None) -> None:
        """Stop, losing as little as possible within `timeout` seconds.

        Held messages go into the spool (retried until the timeout while the disk is
        full); while connected the spool drains to the broker, and what the disk cannot
        take is published straight from memory. Then `final_status()` (called now, so it
        sees the drained depth and broker "stopped") is published as the retained status.
        clean=True says `stopped` on `<root>/available`; clean=False (a crash) says
        `offline`, as the last will would. Never raises.
        """
        deadline = self._clock() + timeout
        self._inbox.flush(force=True)  # the count a flood held back, sent ahead of the final status
        if self._inbox.refused:
            logger.info("%d commands refused since this link started", self._inbox.refused)
        pump_ended = self._pump.drain(deadline)
        if pump_ended:
            try:
                self._pump.finish(deadline)
            except Exception:  # noqa: BLE001 - stop() never raises; what is left is counted below
                logger.exception("saving the held telemetry messages failed")
        else:  # stuck in the spool (a disk that does not answer): leave the spool to it
            logger.error("the telemetry pump did not stop within %.1f s", timeout)
        self._hand_over(pump_ended)
        self._final_broker = "stopped" if clean else "disconnected"
        self._link.close(clean, deadline, self._clock, status_info=self._publish_final(final_status))
        if pump_ended:
            self._pump.keeper.close()

    def _hand_over(self, pump_ended: bool) -> None:
        """What the hold kept goes to a reload's new link, or is counted as lost."""
        lost, keeper = len(self._hold), self._pump.keeper
        reason = keeper.outage.text if keeper.outage else "the spool could not be written"
        successor = self._successor
        if successor is not None:
            if lost:
                successor.adopt_held(self._hold.take_all())
                logger.warning("%d telemetry messages the spool could not take (%s) go to the new link", lost, reason)
                lost = 0
            if pump_ended and keeper.path:  # its spool is ours again (closed below): rows left in it
                successor.adopt_spool_rows(keeper.path)
        if lost:
            logger.error("%d telemetry messages could not be saved (%s) and are lost", lost, reason)

    def _publish_final(self, final_status: Callable[[], dict] | None):
        """The final status, made now; paho's handle on its publication, if it went out."""
        if final_status is None:
            return None
        try:
            status = final_status()
        except Exception:  # noqa: BLE001 - a broken status must not stop the shutdown
            logger.exception("the final status could not be made")
            return None
        self.set_status(status)
        return self._link.last_status_info

    # ----- wiring --------------------------------------------------------------------------------

    def _receive(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic in self._announcements:
            if self._on_announcement is not None:
                self._on_announcement(topic, payload)
            return
        self._inbox.receive(topic, payload, retained)

    def _wake_pump(self) -> None:
        self._pump.wake()
