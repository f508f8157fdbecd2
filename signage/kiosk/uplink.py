"""The kiosk's telemetry link: made for a configuration (with Home Assistant discovery
and the privacy state to publish), started, and stopped with the true final status."""

from __future__ import annotations

from typing import Callable

from signage import __version__
from signage.config import Config


def make(config: Config, on_command, privacy_on: bool, open_spool: bool = True):
    """A telemetry link for `config`, not started: nothing is sent, no thread runs (with
    open_spool=False not even the spool is opened: the pump opens it once started).
    Raises ConfigError when the configuration cannot make one (broker URL, TLS files)."""
    from signage.telemetry.homeassistant import discovery
    from signage.telemetry.mqtt import Telemetry

    telemetry = Telemetry(config.mqtt, config.site, config.device, config.paths.spool,
                          spool_max_bytes=int(config.paths.spool_max_mb * 1024 * 1024), on_command=on_command,
                          open_spool=open_spool)
    if config.mqtt.homeassistant:
        for topic, payload in discovery(telemetry.root, config.site, config.device, __version__,
                                        config.mqtt.discovery_prefix).items():
            telemetry.publish_retained(topic, payload)
    telemetry.set_state("privacy", "ON" if privacy_on else "OFF")
    return telemetry


def start(kiosk, config: Config):
    telemetry = make(config, kiosk.on_command, kiosk.privacy.on)
    telemetry.start()
    return telemetry


def stop(telemetry, final_status: Callable[[], dict], clean: bool) -> None:
    """Drain, publish the true final status, then `stopped` (clean) or nothing (the
    broker's will says `offline` for a crash)."""
    telemetry.stop(timeout=2.0, final_status=final_status, clean=clean)
