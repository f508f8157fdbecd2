"""`signage monitor`: a live table of the fleet from MQTT (signage/fleet/monitor.py)."""

from __future__ import annotations

import argparse

from signage.cli.options import broker_url, matching, seconds
from signage.patterns import NAME_PATTERN, TOPIC_PATTERN


def add(commands) -> None:
    parser = commands.add_parser("monitor", help="live table of the fleet from MQTT")
    parser.add_argument("--broker", type=broker_url, default="mqtt://localhost:1883", help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--site", type=matching(NAME_PATTERN), help="only this site")
    parser.add_argument("--root", type=matching(TOPIC_PATTERN), default="signage", help="topic root (mqtt.topic_root)")
    parser.add_argument("--json", action="store_true", help="stream the raw messages as JSON lines")
    parser.add_argument("--duration", type=seconds(), help="stop after this many seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.fleet.monitor import monitor

    return monitor(args.broker, args.site, args.root, args.json, args.duration)
