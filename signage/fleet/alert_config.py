"""`alerts:` in fleet.yaml: which rules, how often, how quiet, and where notices go.
Every value is bounded and a typo is an error (file:line:col, what is allowed)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LOCK = r"^[0-9a-f]{12}$"
ADDRESS = re.compile(r"^[^@\s,;<>]{1,64}@[^@\s,;<>]{1,255}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookConfig(Strict):
    url: str = Field(description="where each alert and recovery is POSTed as JSON (http:// or https://)")
    timeout_s: float = Field(5.0, ge=0.5, le=60, description="seconds to wait for the receiver, per attempt")
    retries: int = Field(3, ge=0, le=10, description="attempts after the first, 1 s, 2 s, 4 s … apart")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value[:100]!r} is not an http:// or https:// URL with a host")
        return value


class EmailConfig(Strict):
    host: str = Field(description="the SMTP server")
    port: int = Field(25, ge=1, le=65535, description="25, or 587 with starttls")
    starttls: bool = Field(False, description="upgrade the connection with STARTTLS before logging in")
    username: str | None = None
    password: str | None = None
    sender: str = Field(description="the From address")
    to: list[str] = Field(min_length=1, max_length=50, description="the recipients")
    timeout_s: float = Field(10.0, ge=0.5, le=120, description="seconds to wait for the server, per attempt")
    retries: int = Field(3, ge=0, le=10, description="attempts after the first, 1 s, 2 s, 4 s … apart")

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not ADDRESS.match(value):
            raise ValueError(f"{value[:100]!r} is not an e-mail address (name@example.org)")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            if not ADDRESS.match(address):
                raise ValueError(f"{address[:100]!r} is not an e-mail address (name@example.org)")
        return value


class AlertsConfig(Strict):
    every_s: int = Field(30, ge=5, le=600, description="seconds between evaluations of the rules")
    quiet_minutes: int = Field(60, ge=0, le=7 * 24 * 60, description="an alert of a screen and rule is not sent "
                               "again within this many minutes of the last one sent (it is kept on the page, and "
                               "sent when the quiet period ends if it still holds)")
    offline_minutes: int | None = Field(5, ge=1, le=7 * 24 * 60, description="a screen offline (it died or lost "
                                        "its link; a clean stop is not) for this many minutes; null: off")
    camera: bool = Field(True, description="an online screen whose camera is not ok (off for privacy is ok)")
    display: bool = Field(True, description="an online screen whose display is not ok (off by its power schedule "
                          "is ok)")
    spool_messages: int | None = Field(1000, ge=1, le=10_000_000, description="an online screen whose spool "
                                       "holds at least this many messages in two statuses in a row, the later not "
                                       "smaller (its uplink is not keeping up; one draining after an outage is "
                                       "fine); null: off")
    refused_commands: bool = Field(True, description="each command a screen refused")
    builds: list[str] | None = Field([], max_length=100, description="the uv.lock hashes (12 hex) a screen may "
                                     "run; a screen on another is on an old build. Empty: the fleet's most common "
                                     "lock; null: off")
    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None

    @field_validator("builds")
    @classmethod
    def _locks(cls, value: list[str] | None) -> list[str] | None:
        for lock in value or []:
            if not re.match(LOCK, lock):
                raise ValueError(f"{lock[:40]!r} is not a lock hash: 12 lower-case hex digits, as `signage "
                                 "--version` prints it")
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> AlertsConfig:
        if self.email and (self.email.username is None) != (self.email.password is None):
            raise ValueError("email: username and password go together (both, or neither)")
        return self
