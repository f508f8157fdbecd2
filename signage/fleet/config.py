"""The dashboard's settings: a small YAML file (default ~/.config/signage/fleet.yaml)
holding the password hash and whatever the command line does not override."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signage import validation, yamlread
from signage.config import BROKER_FORM, TlsConfig, parse_broker_url
from signage.fleet.alert_config import AlertsConfig


class FleetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: str | None = Field(None, description="SQLite file or postgresql://user:pass@host/db; default "
                                             "~/.local/share/signage/fleet.sqlite3")
    broker: str = Field("mqtt://localhost:1883", description=BROKER_FORM)
    username: str | None = None
    password: str | None = Field(None, description="MQTT password")
    topic_root: str = "signage"
    share_group: str | None = Field(None, description="MQTT 5 shared subscription group, to run several ingests")
    client_id: str | None = None
    session_expiry: int = Field(7 * 24 * 3600, ge=60, description="seconds the broker keeps our queue")
    retention_days: int = Field(90, ge=1, description="days of raw metrics, plays and history kept")
    raw_payload_mb: float = Field(1024, ge=0, le=1_000_000, description="MB of raw metrics payloads kept in all; "
                                  "past it, new metrics are stored without their payload until the retention "
                                  "purge frees room")
    retire_after_days: int | None = Field(30, ge=1, description="screens not seen for this many days (and not "
                                          "online) leave the fleet page; what they reported stays; null: never")
    listen: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    login_hash: str | None = Field(None, description="set by `signage fleet passwd`")
    secure_cookies: bool = Field(False, description="mark the session cookie Secure (behind an HTTPS proxy)")
    tls: TlsConfig | None = Field(None, description="broker TLS files (ca: the CA that signed the broker's "
                                  "certificate, when it is not in the system's store)")
    command_key: str | None = Field(None, description="the private key commands are signed with (made at first "
                                    "start, mode 0600); default command.key beside this file")
    devices: str | None = Field(None, description="the devices `signage fleet provision` made identities for; "
                                "default devices.yaml beside this file")
    releases: str | None = Field(None, description="the folder `signage publish --releases` writes, served "
                                 "read-only at /releases for the kiosks' content.url; none: not served")
    trusted_proxies: list[str] = Field([], description="addresses or networks (10.0.0.0/8) of the reverse proxies "
                                       "whose X-Forwarded-For and X-Forwarded-Proto are believed; none by default, "
                                       "so no client can choose the address the login back-off counts")
    alerts: AlertsConfig = Field(AlertsConfig(), description="alert rules, quiet period, webhook and e-mail "
                                 "(docs/fleet.md, Alerts)")

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)  # the kiosk's rules: refused here, not when the ingest connects
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)") \
                    from None
        return value

    def command_key_path(self, config_path: Path) -> Path:
        return Path(self.command_key).expanduser() if self.command_key else config_path.parent / "command.key"

    def devices_path(self, config_path: Path) -> Path:
        return Path(self.devices).expanduser() if self.devices else config_path.parent / "devices.yaml"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "signage" / "fleet.yaml"


def load(path: Path) -> FleetConfig:
    """The settings in `path`; the defaults when it is missing or empty. ConfigError with
    file:line:col for what is wrong."""
    if not path.exists():
        return FleetConfig()
    document = yamlread.load(path, empty_ok=True)
    return FleetConfig() if document.data is None else validation.validate(FleetConfig, document)


def save(path: Path, config: FleetConfig) -> None:
    """Write atomically, readable by the owner only (it holds the login hash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(yamlread.dump(config.model_dump(exclude_defaults=True)))
    os.replace(temporary, path)
