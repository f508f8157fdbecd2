"""A fleet's broker as docs/security.md sets it up: Mosquitto with TLS, a password file and
an ACL, from the configuration block in that page and the files `signage fleet provision`
writes, run through the real command line. And `Peer`, an MQTT 5 client with credentials
that records what it receives and what the broker answered to its publishes."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from signage.config import TlsConfig, parse_broker_url
from signage.modelfiles import PROJECT_ROOT
from signage.wire.client import new_client
from signage.wire.envelope import Signer
from tests.broker import Broker, free_port, self_signed_tls

SECURITY_DOC = PROJECT_ROOT / "docs" / "security.md"
MARKER = "<!-- securing-a-fleet: mosquitto.conf -->"


def documented_mosquitto_conf() -> str:
    """The Mosquitto configuration docs/security.md tells operators to install."""
    text = SECURITY_DOC.read_text()
    after = text[text.index(MARKER) + len(MARKER):]
    return re.search(r"```conf\n(.*?)```", after, re.S).group(1)


@dataclass
class SecuredFleet:
    broker: Broker
    ca: Path
    fleet_config: Path  # fleet.yaml, with the fleet's broker identity in it
    signer: Signer  # the fleet's command key, as provision made it
    kiosks: dict[str, dict] = field(default_factory=dict)  # "site/device" -> its provisioned config lines

    @property
    def fleet(self) -> dict:
        return yaml.safe_load(self.fleet_config.read_text())

    def kiosk_mqtt(self, name: str, **extra) -> str:
        """The kiosk's `mqtt` section as provision printed it (one YAML flow line), plus `extra`."""
        section = self.kiosks[name]["mqtt"] | extra
        return yaml.safe_dump(section, default_flow_style=True, width=10_000).strip()


def provision(config: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "signage.cli", "fleet", "--config", str(config), "provision",
                             *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def secured_fleet(folder: Path, devices: list[str]) -> SecuredFleet:
    """Provision the fleet and `devices` ("site/device"), then start the documented broker."""
    (folder / "tls").mkdir(parents=True)
    tls = self_signed_tls(folder / "tls")
    port = free_port()
    config = folder / "cfg" / "fleet.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({"broker": f"mqtts://127.0.0.1:{port}", "tls": {"ca": str(tls["ca"])}}))
    mosquitto = folder / "mosquitto"
    provision(config, "fleet", "--mosquitto", str(mosquitto))
    kiosks = {}
    for name in devices:
        printed = provision(config, name, "--mosquitto", str(mosquitto), "--kiosk-ca", str(tls["ca"]))
        kiosks[name] = yaml.safe_load(printed)  # the config lines; the rest are comments
    conf = documented_mosquitto_conf()
    for path, real in (("/etc/mosquitto/signage/", f"{mosquitto}/"), ("/etc/mosquitto/certs/ca.crt", tls["ca"]),
                       ("/etc/mosquitto/certs/server.crt", tls["cert"]),
                       ("/etc/mosquitto/certs/server.key", tls["key"])):
        assert path in conf, path
        conf = conf.replace(path, str(real))
    conf = conf.replace("listener 8883\n", f"listener {port} 127.0.0.1\n")
    (folder / "broker").mkdir()
    broker = Broker(folder / "broker", tls=tls, settings=conf, port=port).start()
    return SecuredFleet(broker, tls["ca"], config, Signer.load_or_create(config.parent / "command.key"), kiosks)


class Peer:
    """An MQTT 5 client over TLS. `refused` says why the broker refused the connection."""

    def __init__(self, url: str, ca: Path, username: str | None = None, password: str | None = None,
                 subscribe: str | None = None):
        host, port, _ = parse_broker_url(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self._acks: dict[int, str] = {}
        self._answered, self._subscribed = threading.Event(), threading.Event()
        self.refused: str | None = None
        self.client = new_client(protocol="5", username=username, password=password, tls_files=TlsConfig(ca=str(ca)))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = lambda c, u, mid, rc, p: self._acks.__setitem__(mid, str(rc))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self._subscribed.set()
        self._topic = subscribe
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._answered.wait(10), "the broker did not answer the connection"
        if subscribe and self.refused is None:
            assert self._subscribed.wait(10), f"no SUBACK for {subscribe}"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.refused = str(reason_code) if reason_code.is_failure else None
        if self._topic and self.refused is None:
            client.subscribe(self._topic, qos=1)
        self._answered.set()

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> str:
        """QoS 1; the broker's answer (its PUBACK reason), e.g. 'Success' or 'Not authorized'."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        deadline = time.monotonic() + 5
        while info.mid not in self._acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._acks.get(info.mid, "no answer")

    def on(self, suffix: str) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
