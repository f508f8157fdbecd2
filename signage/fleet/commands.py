"""Commands from the dashboard to a screen, on the documented topics
(`<root>/<site>/<device>/<feature>/set`, docs/mqtt.md), checked with the device's own
validation (signage/telemetry/commands.py) before anything is published, and sealed with
the fleet's command key (signage/telemetry/envelope.py) as they go out."""

from __future__ import annotations

import logging
import threading


from signage.config import TlsConfig
from signage.telemetry.commands import CommandRejected, parse
from signage.telemetry.client import new_client
from signage.telemetry.envelope import Signer
from signage.telemetry.mqtt import broker_address

logger = logging.getLogger(__name__)


class CommandRefused(Exception):
    """Not sent; the message says why, for the person who asked."""


def build(root: str, site: str, device: str, feature: str, value: str, screen_known: bool,
          creatives: list[str]) -> tuple[str, bytes]:
    """(topic, payload) for a command, or CommandRefused."""
    if not screen_known:
        raise CommandRefused(f"unknown screen {site[:64]}/{device[:64]}: no message was ever received from it")
    base = f"{root}/{site}/{device}"
    topic, payload = f"{base}/{feature[:40]}/set", value.strip().encode()
    try:
        command = parse(base, topic, payload)
    except CommandRejected as exc:
        raise CommandRefused(str(exc)) from None
    if command.feature == "creative" and command.value not in creatives:
        known = ", ".join(creatives[:20]) or "none yet"
        raise CommandRefused(f"creative {command.value!r} has never played on {site}/{device}; known: {known}")
    return topic, command.value.encode()


def sealed(signer: Signer, topic: str, payload: bytes) -> bytes:
    """What goes on the wire: the command's value, signed for this topic, now, once. A kiosk
    refuses unsigned commands, and forged or replayed ones."""
    return signer.seal(topic, payload.decode())


class Publisher:
    """A small MQTT client for commands (separate from the ingest's persistent session)."""

    def __init__(self, broker: str, signer: Signer, client_id: str | None = None, username: str | None = None,
                 password: str | None = None, tls_files: TlsConfig | None = None):
        host, port, tls = broker_address(broker)
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

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused[mid] = str(reason_code)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
