"""Signed commands (wire/envelope.py), the kiosk's door (telemetry/inbox.py) and the
throttle on refusals (telemetry/refusals.py), with clocks the tests move."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from signage.config import CommandsConfig
from signage.telemetry.inbox import BURST, EVERY_S, Inbox
from signage.telemetry.refusals import Refusals
from signage.wire.commands import CommandRejected, parse
from signage.wire.envelope import Signer

ROOT = "signage/lab/kiosk-1"
NOW = 1_800_000_000.0


class Clocks:
    """A wall clock (Unix seconds) and a monotonic one, moved by the test."""

    def __init__(self, wall: float = NOW):
        self.wall_at, self.mono_at = wall, 1000.0

    def wall(self) -> float:
        return self.wall_at

    def monotonic(self) -> float:
        return self.mono_at

    def advance(self, seconds: float) -> None:
        self.wall_at += seconds
        self.mono_at += seconds


@pytest.fixture
def signer(tmp_path) -> Signer:
    return Signer.load_or_create(tmp_path / "command.key")


def inbox_for(signer: Signer | None, clocks: Clocks, **settings) -> Inbox:
    config = CommandsConfig(public_key=signer.public_text if signer else None, **settings)
    return Inbox(ROOT, config, wall=clocks.wall, monotonic=clocks.monotonic)


def sealed(signer: Signer, clocks: Clocks, feature: str, value: str, topic: str | None = None) -> tuple[str, bytes]:
    signer._clock = clocks.wall  # the fleet's clock, here the kiosk's own unless a test moves it
    topic = topic or f"{ROOT}/{feature}/set"
    return topic, signer.seal(topic, value)


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "fleet" / "command.key"
    first = Signer.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Signer.load_or_create(path).public_text == first.public_text, "the same key at the next start"
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="readable by others"):
        Signer.load_or_create(path)
    os.chmod(path, 0o600)
    path.write_text("not a key")
    with pytest.raises(ValueError, match="not a PEM private key"):
        Signer.load_or_create(path)


def test_a_sealed_command_is_taken_once(signer):
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    topic, payload = sealed(signer, clocks, "privacy", "ON")
    assert len(payload) <= 256, "a sealed command fits the command size bound"
    command = inbox.admit(topic, payload, retained=False)
    assert (command.feature, command.value) == ("privacy", "ON")
    clocks.advance(5)
    with pytest.raises(CommandRejected, match="replayed"):
        inbox.admit(topic, payload, retained=False)


@pytest.mark.parametrize("tamper", ["value", "topic", "sig", "other key", "ts"])
def test_a_seal_fits_only_its_own_command(signer, tmp_path, tamper):
    """Another value, another screen, another feature, another key, another time: refused."""
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    topic, payload = sealed(signer, clocks, "privacy", "ON")
    envelope = json.loads(payload)
    if tamper == "value":
        envelope["value"] = "OFF"
    elif tamper == "ts":
        envelope["ts"] -= 1
    elif tamper == "sig":
        envelope["sig"] = envelope["sig"][:-2] + ("AA" if envelope["sig"][-2:] != "AA" else "BA")
    elif tamper == "topic":  # signed for kiosk-2's privacy, sent to kiosk-1's
        envelope = json.loads(signer.seal("signage/lab/kiosk-2/privacy/set", "ON"))
    elif tamper == "other key":
        envelope = json.loads(Signer.load_or_create(tmp_path / "other.key").seal(topic, "ON"))
    with pytest.raises(CommandRejected, match="bad signature"):
        inbox.admit(topic, json.dumps(envelope).encode(), retained=False)


def test_a_seal_for_one_feature_does_not_fit_another(signer):
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    _, payload = sealed(signer, clocks, "playlist", "RELOAD")
    forged = json.loads(payload)
    with pytest.raises(CommandRejected, match="bad signature"):
        inbox.admit(f"{ROOT}/creative/set", json.dumps(forged | {"value": "RELOAD"}).encode(), retained=False)


def test_unsigned_commands_are_refused_unless_the_config_says_otherwise(signer):
    clocks = Clocks()
    with pytest.raises(CommandRejected, match="unsigned; this kiosk acts only on commands the fleet signed"):
        inbox_for(signer, clocks).admit(f"{ROOT}/privacy/set", b"OFF", retained=False)
    with pytest.raises(CommandRejected, match="unsigned"):
        inbox_for(None, clocks).admit(f"{ROOT}/privacy/set", b'{"value": "OFF"}', retained=False)
    opted_out = inbox_for(None, clocks, accept_unsigned=True)
    assert opted_out.admit(f"{ROOT}/privacy/set", b"OFF", retained=False).value == "OFF"


def test_a_kiosk_without_the_key_says_what_to_add(signer):
    clocks = Clocks()
    topic, payload = sealed(signer, clocks, "privacy", "ON")
    with pytest.raises(CommandRejected, match="no mqtt.commands.public_key"):
        inbox_for(None, clocks).admit(topic, payload, retained=False)


def test_freshness_window_both_ways_and_before_ntp(signer):
    clocks = Clocks()
    inbox = inbox_for(signer, clocks, max_age=120)
    clocks.advance(600)  # the link has run for 10 minutes
    fleet = Clocks(clocks.wall_at - 121)
    topic, late = sealed(signer, fleet, "playlist", "RELOAD")
    with pytest.raises(CommandRejected, match="expired: signed 121 s ago, accepted for 120 s"):
        inbox.admit(topic, late, retained=False)
    fleet = Clocks(clocks.wall_at - 119)
    assert inbox.admit(*sealed(signer, fleet, "playlist", "RELOAD"), retained=False).value == "RELOAD"
    # A Pi booted without NTP: its clock says 1970; the fleet's says now.
    booted = Clocks(wall=10.0)
    inbox = inbox_for(signer, booted)
    with pytest.raises(CommandRejected, match="ahead of this kiosk's clock .*is its clock set \\(NTP\\)"):
        inbox.admit(*sealed(signer, Clocks(NOW), "privacy", "ON"), retained=False)


def test_a_command_signed_before_the_link_started_is_refused(signer):
    """After a restart the nonces are forgotten: what was signed before it cannot come back."""
    fleet = Clocks()
    topic, payload = sealed(signer, fleet, "creative", "spring")
    restarted = Clocks(NOW + 30)
    with pytest.raises(CommandRejected, match="signed before this kiosk's link started"):
        inbox_for(signer, restarted).admit(topic, payload, retained=False)


def test_the_nonce_memory_follows_a_clock_step(signer):
    """NTP steps the clock back: a command seen before the step is still refused."""
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    clocks.advance(300)
    topic, payload = sealed(signer, clocks, "privacy", "ON")
    inbox.admit(topic, payload, retained=False)
    clocks.wall_at -= 60
    with pytest.raises(CommandRejected, match="replayed"):
        inbox.admit(topic, payload, retained=False)


@pytest.mark.parametrize("payload,reason", [
    ({"value": "ON", "ts": "1", "nonce": "a" * 22, "sig": "b" * 86}, "seal: ts: Input should be a valid integer"),
    ({"value": "ON", "ts": 1.5, "nonce": "a" * 22, "sig": "b" * 86}, "seal: ts"),
    ({"value": "ON", "ts": -1, "nonce": "a" * 22, "sig": "b" * 86}, "seal: ts"),
    ({"value": "ON", "ts": 1, "nonce": "a/b" * 8, "sig": "b" * 86}, "seal: nonce"),
    ({"value": "ON", "ts": 1, "nonce": "a" * 22, "sig": "b" * 85}, "seal: sig"),
    ({"value": "ON", "ts": 1, "nonce": "a" * 22}, "sealed by the fleet"),
    ({"value": "ON", "extra": 1}, "sealed by the fleet"),
])
def test_malformed_seals_say_what_is_wrong(payload, reason):
    with pytest.raises(CommandRejected, match=reason):
        parse(ROOT, f"{ROOT}/privacy/set", json.dumps(payload).encode())


def test_each_kind_of_command_has_its_own_rate(signer):
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    taken = 0
    for _ in range(50):
        try:
            inbox.admit(*sealed(signer, clocks, "creative", "spring"), retained=False)
            taken += 1
        except CommandRejected as exc:
            assert "too many creative commands" in str(exc)
    assert taken == BURST
    assert inbox.admit(*sealed(signer, clocks, "privacy", "ON"), retained=False), "another kind is not held up"
    clocks.advance(EVERY_S)
    assert inbox.admit(*sealed(signer, clocks, "creative", "spring"), retained=False)


def test_a_rate_limited_command_is_not_remembered_and_may_come_again(signer):
    clocks = Clocks()
    inbox = inbox_for(signer, clocks)
    for _ in range(BURST):
        inbox.admit(*sealed(signer, clocks, "playlist", "RELOAD"), retained=False)
    topic, payload = sealed(signer, clocks, "playlist", "RELOAD")
    with pytest.raises(CommandRejected, match="too many"):
        inbox.admit(topic, payload, retained=False)
    clocks.advance(EVERY_S)
    assert inbox.admit(topic, payload, retained=False).value == "RELOAD"


def test_retained_commands_are_refused(signer):
    clocks = Clocks()
    with pytest.raises(CommandRejected, match="retained command ignored"):
        inbox_for(signer, clocks).admit(*sealed(signer, clocks, "privacy", "ON"), retained=True)


def test_refusals_are_told_a_few_at_a_time_then_counted(caplog):
    clocks = Clocks()
    published: list[tuple[str, str]] = []
    refusals = Refusals(lambda topic, reason: published.append((topic, reason)), window_s=60, burst=3,
                        clock=clocks.monotonic)
    with caplog.at_level(logging.WARNING, logger="signage.telemetry.refusals"):
        for n in range(10_000):
            refusals.refuse(f"{ROOT}/privacy/set", f"reason {n}")
        refusals.flush()
        assert len(published) == 3 and len(caplog.records) == 3, "nothing more until the window ends"
        clocks.advance(60)
        refusals.flush()
        refusals.flush()
    assert len(published) == 4 and len(caplog.records) == 4
    assert published[-1][1] == "refused 9,997 more commands in the last 60 s; the latest: reason 9999"
    clocks.advance(1)
    refusals.refuse(f"{ROOT}/privacy/set", "a new window")
    assert published[-1][1] == "a new window", "a calm minute later, the next refusal is told at once"
