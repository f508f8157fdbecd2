"""`signage monitor`: the fleet at a glance, live in the terminal. Like the dashboard it
reads only the MQTT contract (signage/wire/), and it keeps nothing."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass

from signage.config import parse_broker_url
from signage.errors import ConfigError
from signage.fleet.rollout import content_summary
from signage.wire.client import new_client


@dataclass
class Device:
    online: str = "?"
    playing: str = "-"
    content: str = "-"  # the release it plays and the next one's rollout; "-" without content from the fleet
    viewers: str = "-"
    spool: str = "-"
    error: str = ""


class Fleet:
    """Devices by (site, device), updated from their messages."""

    def __init__(self, root: str):
        self.root = root
        self.devices: dict[tuple[str, str], Device] = {}
        self.lock = threading.Lock()

    def update(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != self.root:
            return
        site, device, kind = parts[1], parts[2], "/".join(parts[3:])
        with self.lock:
            entry = self.devices.setdefault((site, device), Device())
            text = payload.decode("utf-8", "replace")
            if kind == "available":
                entry.online = text
                return
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                return
            if kind == "status" and isinstance(data, dict):
                entry.playing = str(data.get("playing") or "-")
                entry.spool = str(data.get("spool_depth", "-"))
                entry.error = str(data.get("last_error") or "")
                entry.content = content_summary(data.get("content")) or "-"
            elif kind == "metrics" and isinstance(data, dict):
                entry.viewers = str(data.get("viewers", "-"))
            elif kind == "error" and isinstance(data, dict):
                entry.error = f"command refused: {data.get('error', '')}"

    def table(self) -> str:
        header = (f"{'site':12}{'device':16}{'online':9}{'playing':18}{'content':35}{'viewers':>8}{'spool':>7}"
                  "  last error")
        lines = [header, "-" * len(header)]
        with self.lock:
            for (site, device), d in sorted(self.devices.items()):
                lines.append(f"{site:12}{device:16}{d.online:9}{d.playing[:17]:18}{d.content[:34]:35}{d.viewers:>8}"
                             f"{d.spool:>7}  {d.error[:60]}")
        return "\n".join(lines)


CONNECT_TIMEOUT_S = 10.0


def monitor(broker: str, site: str | None, root: str, as_json: bool, duration: float | None,
            out=None, err=None, connect_timeout: float = CONNECT_TIMEOUT_S,
            listening: threading.Event | None = None) -> int:
    """0 after `duration` or Ctrl-C; 2 for a bad broker URL; 1 when the broker cannot be
    reached or refuses us within `connect_timeout` seconds (one line on `err`, no traceback).
    `listening` is set once the broker acknowledged the subscription (for callers that
    must not publish before that)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        host, port, tls = parse_broker_url(broker)
    except ValueError as exc:
        print(f"signage monitor: --broker {exc}", file=err)
        return 2
    fleet = Fleet(root)
    try:
        client = new_client(tls=tls)
    except ConfigError as exc:  # the system's CA store cannot be loaded
        print(f"signage monitor: {exc}", file=err)
        return 2
    connected, refused = threading.Event(), []

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            refused.append(str(reason_code))
            return
        connected.set()
        client.subscribe(f"{root}/{site or '+'}/+/#", qos=1)

    def on_message(client, userdata, message):
        if as_json:
            try:
                payload = json.loads(message.payload)
            except (json.JSONDecodeError, UnicodeDecodeError):
                payload = message.payload.decode("utf-8", "replace")
            print(json.dumps({"topic": message.topic, "retained": bool(message.retain), "payload": payload}),
                  file=out, flush=True)
        fleet.update(message.topic, message.payload)

    client.on_connect, client.on_message = on_connect, on_message
    if listening is not None:
        client.on_subscribe = lambda *_: listening.set()
    try:
        client.connect_async(host, port)
        client.loop_start()
        deadline = time.monotonic() + connect_timeout
        while not connected.is_set() and not refused and time.monotonic() < deadline:
            connected.wait(0.1)
        if not connected.is_set():
            why = f"refused the connection: {refused[0]}" if refused else \
                f"cannot be reached within {connect_timeout:.0f} s"
            print(f"signage monitor: the broker at {host}:{port} {why}", file=err)
            return 1
        started = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            time.sleep(1.0)
            if not as_json:
                clear = "\033[H\033[2J" if out.isatty() else ""
                print(clear + fleet.table(), file=out, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    return 0
