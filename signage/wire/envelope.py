"""Signed commands: the envelope the fleet seals and a kiosk opens.

A command's payload on `<root>/<site>/<device>/<feature>/set` is
`{"value": "ON", "ts": 1767225600, "nonce": "<22 chars>", "sig": "<86 chars>"}`: an
Ed25519 signature (PyCA `cryptography`) over the topic, the value, the timestamp and the
nonce, so a signature made for one screen, one feature or one value fits no other.

A kiosk accepts a sealed command once: its timestamp must be within `max_age` seconds
of the kiosk's clock, not older than the link that receives it (nonces are remembered
only since then), and its nonce unseen. A Pi has no real-time clock: until NTP has set
it, fresh commands look like they come from the future (or the past) and are refused
with a reason that says so, which is the safe side. The nonce memory is bounded: it
only needs nonces younger than `max_age`, and when it is full a command is refused,
never forgotten.

Only this module knows the envelope's form, so the fleet and the kiosks cannot drift
apart; it imports nothing of the kiosk or the fleet.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from signage.fields import ed25519_public_bytes

SEALED_KEYS = frozenset({"value", "ts", "nonce", "sig"})
DOMAIN = b"signage-command/1"  # a signature over our commands fits no other protocol's message
NONCE_BYTES = 16
MAX_NONCES = 4096  # the rate limit keeps far fewer live within max_age; full means refuse, not forget
_B64URL = r"^[A-Za-z0-9_-]+$"


class SealRefused(Exception):
    """The seal does not prove the command comes from the fleet, now; the message says why."""


class Seal(BaseModel):
    """The part of a sealed command that proves it: when, which one, who."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ts: int = Field(ge=0, le=1 << 40, description="Unix seconds when the fleet signed it.")
    nonce: Annotated[str, StringConstraints(pattern=_B64URL, min_length=16, max_length=44)]
    sig: Annotated[str, StringConstraints(pattern=_B64URL, min_length=86, max_length=86)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_bytes(topic: str, value: str, ts: int, nonce: str) -> bytes:
    """What the signature covers: names never contain a newline, so the fields cannot slide."""
    return b"\n".join((DOMAIN, topic.encode(), value.encode(), str(ts).encode(), nonce.encode()))


def public_key(text: str) -> Ed25519PublicKey:
    """A public key as config.yaml holds it (base64 of the 32 raw bytes); ValueError if not one."""
    return Ed25519PublicKey.from_public_bytes(ed25519_public_bytes(text))


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


class Signer:
    """The fleet's command key: seals each command it publishes."""

    def __init__(self, key: Ed25519PrivateKey, clock: Callable[[], float] = time.time):
        self._key, self._clock = key, clock
        self.public_text = public_text(key.public_key())

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """The key in `path` (PEM, PKCS#8), made there with mode 0600 if there is none.
        ValueError when the file is not a private key or others may read it."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            # O_EXCL: two processes starting at once keep one key, not two half-written
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ValueError(f"{path}: the command key is readable by others (mode {mode:o}); chmod 600 {path}")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
        return cls(key)

    def seal(self, topic: str, value: str) -> bytes:
        """The payload to publish on `topic`: the value, sealed now."""
        ts, nonce = int(self._clock()), _b64(secrets.token_bytes(NONCE_BYTES))
        sig = _b64(self._key.sign(signed_bytes(topic, value, ts, nonce)))
        return json.dumps({"value": value, "ts": ts, "nonce": nonce, "sig": sig}, separators=(",", ":")).encode()


class Verifier:
    """A kiosk's check of sealed commands: the fleet's signature, fresh, and once only.
    One per MQTT link; not thread-safe (paho's network thread is its only caller)."""

    def __init__(self, key: Ed25519PublicKey | None, max_age: float, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self._key, self.max_age = key, max_age
        self._wall, self._monotonic = wall, monotonic
        self._started = monotonic()
        self._seen: dict[str, int] = {}  # nonce -> ts, of commands accepted within max_age

    def check(self, topic: str, value: str, seal: Seal) -> None:
        """SealRefused unless the seal is the fleet's, for this topic and value, fresh and unseen."""
        if self._key is None:
            raise SealRefused("this kiosk has no mqtt.commands.public_key, so it cannot check the fleet's "
                              "signature; add the key `signage fleet provision` printed")
        try:
            self._key.verify(_unb64(seal.sig), signed_bytes(topic, value, seal.ts, seal.nonce))
        except (InvalidSignature, binascii.Error, ValueError):
            raise SealRefused("bad signature: not signed by this fleet's command key, or signed for another "
                              "screen, feature or value") from None
        now = self._wall()
        age = now - seal.ts
        if age > self.max_age:
            raise SealRefused(f"expired: signed {age:.0f} s ago, accepted for {self.max_age:.0f} s (a replay, a "
                              "long delay, or a clock that is wrong here or at the fleet)")
        if -age > self.max_age:
            raise SealRefused(f"signed {-age:.0f} s ahead of this kiosk's clock (accepted: {self.max_age:.0f} s); "
                              "is its clock set (NTP)?")
        if seal.ts < now - (self._monotonic() - self._started) - 1:  # 1 s: ts is whole seconds
            raise SealRefused("signed before this kiosk's link started, when it could not remember nonces "
                              "(a replay, or the fleet's clock is behind)")
        self._forget_expired(now)
        if seal.nonce in self._seen:
            raise SealRefused("replayed: this command's nonce was already used")
        if len(self._seen) >= MAX_NONCES:
            raise SealRefused(f"more than {MAX_NONCES} signed commands within {self.max_age:.0f} s; try later")

    def remember(self, seal: Seal) -> None:
        """The command was accepted: its nonce may not be used again."""
        self._seen[seal.nonce] = seal.ts

    def _forget_expired(self, now: float) -> None:
        if len(self._seen) < MAX_NONCES // 2:
            return  # sweeping costs a pass over the table: only when it grows
        oldest = now - self.max_age
        self._seen = {nonce: ts for nonce, ts in self._seen.items() if ts >= oldest}
