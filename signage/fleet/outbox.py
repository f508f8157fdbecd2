"""Commands from the dashboard to a screen, on the documented topics
(`<root>/<site>/<device>/<feature>/set`, docs/mqtt.md), checked with the device's own
validation (signage/wire/commands.py) and what only the fleet knows (the screen is
online, the creative is in its playlist), recorded before anything is published, and
sealed with the fleet's command key (signage/wire/envelope.py) as they go out."""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from signage.config import TlsConfig, parse_broker_url
from signage.fleet import queries
from signage.fleet.operator import OperatorWrites
from signage.wire.client import new_client
from signage.wire.commands import CommandRejected, parse
from signage.wire.envelope import Signer

logger = logging.getLogger(__name__)


class CommandRefused(Exception):
    """Not sent; the message says why, for the person who asked."""


def build(root: str, site: str, device: str, feature: str, value: str, screen: dict | None) -> tuple[str, bytes]:
    """(topic, payload) for a command to `screen` (queries.screen), or CommandRefused.

    Only to a screen that is online: a command is not queued for a screen that is away
    (the broker would hold it, and it would act whenever the screen comes back, when
    nobody expects it), and a creative only from the screen's current playlist, as its
    status lists it."""
    name = f"{site[:64]}/{device[:64]}"
    if screen is None:
        raise CommandRefused(f"unknown screen {name}: no message was ever received from it")
    base = f"{root}/{site}/{device}"
    topic, payload = f"{base}/{feature[:40]}/set", value.strip().encode()
    try:
        command = parse(base, topic, payload)
    except CommandRejected as exc:
        raise CommandRefused(str(exc)) from None
    if screen["availability"] != "online":
        since = f" since {screen['availability_since']:%Y-%m-%d %H:%M} UTC" if screen["availability_since"] else ""
        raise CommandRefused(f"{name} is {screen['availability'] or 'not known to be online'}{since}: commands are "
                             "sent only to screens that are online, never queued; send it again when the screen is "
                             "back")
    if command.feature == "creative":
        creatives = screen["creatives"]
        if creatives is None:
            raise CommandRefused(f"{name} does not report its playlist (its version is older than the dashboard's): "
                                 "update it to play a creative from here")
        if command.value not in creatives:
            known = ", ".join(creatives[:20]) + (" …" if len(creatives) > 20 else "") or "no creatives"
            raise CommandRefused(f"creative {command.value!r} is not in the current playlist of {name}; "
                                 f"it has: {known}")
    return topic, command.value.encode()


def sealed(signer: Signer, topic: str, payload: bytes) -> bytes:
    """What goes on the wire: the command's value, signed for this topic, now, once. A kiosk
    refuses unsigned commands, and forged or replayed ones."""
    return signer.seal(topic, payload.decode())


class Outbox:
    """Sends a command from a page: checked (build), recorded, then published, in that
    order, so nothing reaches a screen that the dashboard has no record of. A record
    that cannot be written raises the database's error, with nothing published."""

    def __init__(self, root: str, reader: sa.Engine, writes: OperatorWrites, publisher: Publisher | None):
        self.root, self.reader, self.writes, self.publisher = root, reader, writes, publisher

    def send(self, site: str, device: str, feature: str, value: str) -> str:
        """The value sent, or CommandRefused."""
        topic, payload = build(self.root, site, device, feature, value, queries.screen(self.reader, site, device))
        if self.publisher is None:
            raise CommandRefused("this dashboard has no broker connection for commands")
        row = self.writes.record_command(site, device, feature, payload.decode())
        try:
            self.publisher.publish(topic, payload)
        except CommandRefused as exc:
            self.writes.command_published(row, error=str(exc))
            raise
        try:
            self.writes.command_published(row)
        except sa.exc.SQLAlchemyError as exc:  # sent all the same: its answer still shows against it
            logger.warning("command %s %s was sent, but its record could not be marked sent: %s", topic[:200],
                           payload.decode(), str(exc).splitlines()[0])
        return payload.decode()


class Publisher:
    """A small MQTT client for commands (separate from the ingest's persistent session)."""

    def __init__(self, broker: str, signer: Signer, client_id: str | None = None, username: str | None = None,
                 password: str | None = None, tls_files: TlsConfig | None = None):
        host, port, tls = parse_broker_url(broker)
        self.signer = signer
        self.connected = threading.Event()
        self.client = new_client(client_id=client_id or "", protocol="5", username=username, password=password,
                                 tls=tls, tls_files=tls_files)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        self._refused: dict[int, str] = {}  # mid -> the broker's reason (MQTT 5 PUBACK), e.g. its ACL said no
        self.client.on_publish = self._on_publish
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> None:
        if not self.connected.wait(timeout):
            raise CommandRefused("the dashboard is not connected to the broker; nothing was sent")
        info = self.client.publish(topic, sealed(self.signer, topic, payload), qos=1)
        try:
            info.wait_for_publish(timeout=timeout)
        except (RuntimeError, ValueError) as exc:
            raise CommandRefused(f"the broker did not take the command: {exc}") from None
        if not info.is_published():
            raise CommandRefused("the broker did not acknowledge the command in time")
        refused = self._refused.pop(info.mid, None)
        if refused:
            raise CommandRefused(f"the broker refused the command ({refused}): does its ACL let the fleet's user "
                                 "publish commands? See Securing a fleet in README")
        logger.info("command sent: %s %s", topic, payload.decode())

    def publish_retained(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        """A retained message as it is (content announcements: a hint, the release itself is
        signed); False when the broker did not take it (not connected, or its ACL said no)."""
        if not self.connected.wait(timeout):
            return False
        info = self.client.publish(topic, payload, qos=1, retain=True)
        try:
            info.wait_for_publish(timeout=timeout)
        except (RuntimeError, ValueError):
            return False
        refused = self._refused.pop(info.mid, None)
        if refused:
            logger.warning("the broker refused %s (%s): does its ACL let the fleet's user publish content "
                           "announcements? `signage fleet provision fleet` writes one that does", topic, refused)
        return info.is_published() and not refused

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused[mid] = str(reason_code)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
