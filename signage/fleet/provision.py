"""Broker identities for the kiosks and the fleet, in Mosquitto 2's own file formats:
a password file line as `mosquitto_passwd` writes it, and an ACL with one block per user.

Per-user `topic` lines rather than `pattern` lines with %u: a kiosk's user name is
`<site>/<device>` (unique, since names hold no '/'), and a block per device can be read
and audited line by line; a pattern would apply to every user, the fleet's included.
The ACL is made whole from the list of provisioned devices each time, so removing a
device from devices.yaml and provisioning again takes its rights away.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from signage.fleet.identities import Provisioned
from signage.wire.homeassistant import node_id
from signage.wire.announcements import content_topics

PASSWORD_BYTES = 24  # 192 random bits: no dictionary, no brute force
SALT_BYTES = 12  # what mosquitto_passwd uses
# mosquitto_passwd's default for its PBKDF2-SHA512 ($7$) hashes; the passwords are random,
# so a higher count would slow every connection and protect nothing.
ITERATIONS = 101


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """`user:$7$101$<salt>$<hash>`, the line `mosquitto_passwd -b file user password` writes."""
    if ":" in user or "\n" in user:
        raise ValueError(f"{user!r}: a broker user name holds no ':' and no line break")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"{user}:$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def kiosk_acl(root: str, device: Provisioned, discovery_prefix: str = "homeassistant") -> list[str]:
    """Publish only under its own topics; read only its own commands and the content
    announcements that concern it (fleet, its site, itself)."""
    own = f"{root}/{device.site}/{device.device}"
    lines = [f"user {device.username}", f"topic write {own}/#", f"topic read {own}/+/set",
             *(f"topic read {topic}" for topic in content_topics(root, device.site, device.device))]
    if device.homeassistant:
        lines.append(f"topic write {discovery_prefix}/+/{node_id(device.site, device.device)}/+/config")
    return lines


def fleet_acl(root: str, user: str) -> list[str]:
    """Read everything under the root; publish only commands and content announcements."""
    return [f"user {user}", f"topic read {root}/#", f"topic write {root}/+/+/+/set", f"topic write {root}/content/#"]


def acl_text(root: str, fleet_user: str | None, devices: list[Provisioned]) -> str:
    blocks = [["# Made by `signage fleet provision`; edits are lost at the next provision."]]
    if fleet_user:
        blocks.append(fleet_acl(root, fleet_user))
    blocks += [kiosk_acl(root, device) for device in sorted(devices, key=lambda d: (d.site, d.device))]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def set_password(path: Path, line: str) -> None:
    """Put `line` into a Mosquitto password file in place of the same user's line."""
    user = line.split(":", 1)[0]
    kept = [old for old in (path.read_text().splitlines() if path.exists() else [])
            if old.strip() and old.split(":", 1)[0] != user]
    write_private(path, "\n".join([*kept, line]) + "\n")


def write_private(path: Path, text: str) -> None:
    """Atomically, readable by the owner only (Mosquitto reads it as its own user: chown it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def kiosk_config(site: str, device: str, broker: str, root: str, password: str, public_key: str,
                 ca: str | None, homeassistant: bool) -> str:
    """The kiosk's config.yaml lines (site, device, the mqtt section)."""
    lines = [f"site: {site}", f"device: {device}", "mqtt:", f"  url: '{broker}'", f"  username: '{site}/{device}'",
             f"  password: '{password}'"]
    if ca:
        lines.append(f"  tls: {{ca: '{ca}'}}")
    if root != "signage":
        lines.append(f"  topic_root: {root}")
    if homeassistant:
        lines.append("  homeassistant: true")
    lines += ["  commands:", f"    public_key: '{public_key}'"]
    return "\n".join(lines) + "\n"
