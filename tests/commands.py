"""Commands as the fleet sends them, for tests: its key (wire/envelope.py) and the
kiosk settings that trust it."""

from __future__ import annotations

from pathlib import Path

from signage.config import CommandsConfig
from signage.wire.envelope import Signer


def fleet_key(folder: Path) -> Signer:
    return Signer.load_or_create(folder / "fleet-command.key")


def trusting(signer: Signer, **settings) -> CommandsConfig:
    """A kiosk's mqtt.commands that accepts what `signer` seals."""
    return CommandsConfig(public_key=signer.public_text, **settings)
