"""The publisher's release key (Ed25519, PyCA `cryptography`) and the seal on a manifest.

The private key is a PEM (PKCS#8) file readable by its owner only, made once with
`signage keygen`; kiosks hold the public key in config.yaml (`content.public_key`,
base64 of the 32 raw bytes, the form the fleet's command key uses). The signature is
over a domain tag and the manifest's canonical bytes, so it fits no command and no
other protocol's message; it travels as `manifest.sig`, base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signage.fields import ed25519_public_bytes

DOMAIN = b"signage-release/1\n"
SIGNATURE_CHARS = 86  # 64 bytes, base64url without padding
PublicKey = Ed25519PublicKey  # for the modules that hold a key but import no cryptography
PrivateKey = Ed25519PrivateKey


class SignatureRefused(Exception):
    """The manifest is not signed by the key this screen trusts; the message says why."""


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as config.yaml holds it."""
    return base64.b64encode(raw_public(key)).decode()


def public_key(text: str) -> Ed25519PublicKey:
    """A public key from config.yaml's text; ValueError saying what is wrong."""
    return Ed25519PublicKey.from_public_bytes(ed25519_public_bytes(text, printed_by="signage keygen"))


def key_id(key: Ed25519PublicKey) -> str:
    """Which key signed: the first 16 hex digits of the sha256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key written to `path` (mode 0600); ValueError if a file is already there
    (a release key is never overwritten: screens trust it)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path} already exists; a release key is never overwritten (screens trust it): "
                         "give another path, or remove it yourself if it is truly unused") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    """The release key in `path`; ValueError when absent, readable by others, or not an Ed25519 key."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the release key ({exc.strerror}); make one with "
                         f"`signage keygen --key {path}`") from None
    if mode & 0o077:
        raise ValueError(f"{path}: the release key is readable by others (mode {mode:o}); chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an unencrypted PEM private key ({str(exc)[:100]})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def sign(key: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """The content of `manifest.sig` for these manifest bytes."""
    return base64.urlsafe_b64encode(key.sign(DOMAIN + manifest)).rstrip(b"=")


def check(key: Ed25519PublicKey, manifest: bytes, signature: bytes) -> None:
    """SignatureRefused unless `signature` is this key's over exactly these bytes."""
    text = signature.strip()
    if not text:
        raise SignatureRefused("no signature: manifest.sig is empty or missing")
    if len(text) != SIGNATURE_CHARS:
        raise SignatureRefused(f"the signature is {len(text)} characters; an Ed25519 signature is "
                               f"{SIGNATURE_CHARS} (base64url)")
    try:
        raw = base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
        key.verify(raw, DOMAIN + manifest)
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureRefused("bad signature: the manifest was changed after signing, or signed with another "
                               "key than content.public_key") from None
