"""The one module that imports paho-mqtt (2.x): every MQTT client of the kiosk and its
tools is made here, with the same callback API version, protocol, credentials and TLS
set-up, and with paho's result codes under names that say what they mean. The fleet
dashboard's clients (MQTT 5, a persistent session) are made here too, and the one
connection `signage doctor` tries (`probe_broker`). Broker URLs are read by the one
parser, config.parse_broker_url."""

from __future__ import annotations

import ssl
import threading
from typing import Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from signage.config import MqttConfig, TlsConfig, parse_broker_url
from signage.errors import ConfigError

PUBLISHED = paho.MQTT_ERR_SUCCESS  # publish() took the message
NOT_CONNECTED = paho.MQTT_ERR_NO_CONN  # publish() queued it for after the (re)connect


def new_client(*, client_id: str = "", protocol: Literal["5", "3.1.1"] = "3.1.1",
               username: str | None = None, password: str | None = None, tls: bool = False,
               tls_files: TlsConfig | None = None) -> paho.Client:
    """A client with callback API version 2. `tls` (an mqtts:// URL) or `tls_files` turn
    TLS on, with the system's CA store unless tls_files.ca names one. ConfigError when
    the certificate files cannot be loaded."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=paho.MQTTv5 if protocol == "5" else paho.MQTTv311)
    if username:
        client.username_pw_set(username, password)
    if tls or tls_files:
        files = tls_files or TlsConfig()
        try:
            client.tls_set(ca_certs=files.ca, certfile=files.cert, keyfile=files.key,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"mqtt.tls: cannot load the certificate files (ca {files.ca!r}): {exc}") from exc
        if files.insecure:
            client.tls_insecure_set(True)
    return client


def session_properties(expiry_s: int, receive_maximum: int) -> Properties:
    """MQTT 5 CONNECT properties of a persistent session: kept `expiry_s` by the broker
    while the client is away, at most `receive_maximum` unacknowledged messages in flight."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = expiry_s
    properties.ReceiveMaximum = receive_maximum
    return properties


def probe_broker(config: MqttConfig, timeout: float = 5.0) -> str | None:
    """Connect once (for `signage doctor`): None when the broker accepts us, else why not."""
    host, port, tls = parse_broker_url(config.url)
    try:
        probe = new_client(protocol=config.protocol, username=config.username, password=config.password,
                           tls=tls, tls_files=config.tls)
    except ConfigError as exc:
        return str(exc)
    answered, result = threading.Event(), []

    def on_connect(client, userdata, flags, reason_code, properties):
        result.append(None if not reason_code.is_failure else f"the broker refused the connection: {reason_code}")
        answered.set()

    probe.on_connect = on_connect
    try:
        probe.connect(host, port, keepalive=max(5, int(timeout)))
    except (OSError, ValueError) as exc:
        return f"cannot reach {host}:{port}: {exc}"
    probe.loop_start()
    try:
        if not answered.wait(timeout):
            return f"{host}:{port} did not answer within {timeout:g} s"
        return result[0]
    finally:
        probe.disconnect()
        probe.loop_stop()
