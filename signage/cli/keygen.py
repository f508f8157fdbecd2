"""`signage keygen`: the publisher's release key, made once; prints the public key for config.yaml."""

from __future__ import annotations

import argparse
from pathlib import Path

from signage.errors import ConfigError


def add(commands) -> None:
    parser = commands.add_parser("keygen", help="make the Ed25519 key that signs content releases; print the "
                                 "public key for the kiosks' config.yaml (content.public_key)")
    parser.add_argument("--key", required=True, help="where to write the private key (PEM, mode 0600); never "
                        "overwritten")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.content import signing

    path = Path(args.key)
    try:
        key = signing.generate(path)
    except ValueError as exc:
        raise ConfigError(f"--key {exc}") from None
    except OSError as exc:
        raise ConfigError(f"--key {path}: cannot write it ({exc.strerror}); give a path in a folder you can write")\
            from None
    print(f"wrote the release key to {path}: keep it off the screens, and back it up")
    print("add to every kiosk's config.yaml:")
    print("content:")
    print(f"  public_key: {signing.public_text(key.public_key())}")
    return 0
