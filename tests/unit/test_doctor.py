"""`signage doctor`: each check tells the integrator what is wrong and how to fix it;
the display check tells "SDL was built without kmsdrm" from "no DRM device here" from
"no permission", against the real SDL this project installs."""

from __future__ import annotations

import os
from pathlib import Path

from signage.display.probe import compiled_video_drivers, drm_cards, usable_by
from signage.kiosk.doctor import kmsdrm_check

CARD = Path("/dev/dri/card0")


def test_the_installed_sdl_has_kmsdrm_compiled_in():
    drivers = compiled_video_drivers()
    assert "kmsdrm" in drivers, f"pygame-ce bundles an SDL with kmsdrm; this one has {drivers}"
    assert "x11" in drivers and "dummy" in drivers


def test_sdl_without_kmsdrm_is_told_apart_from_no_device_and_no_permission():
    built_without = kmsdrm_check(["x11", "wayland", "offscreen", "dummy"], "2.28.4", [CARD], {CARD: True}, "signage")
    assert not built_without.ok and "built without the kmsdrm" in built_without.detail
    assert "pygame-ce" in built_without.fix
    no_device = kmsdrm_check(["x11", "kmsdrm", "dummy"], "2.32.10", [], {}, "signage")
    assert not no_device.ok and "no DRM device" in no_device.detail and "vc4-kms-v3d" in no_device.fix
    no_permission = kmsdrm_check(["kmsdrm"], "2.32.10", [CARD], {CARD: False}, "signage")
    assert not no_permission.ok and "cannot open" in no_permission.detail
    assert "usermod -aG video,render signage" in no_permission.fix
    fine = kmsdrm_check(["kmsdrm"], "2.32.10", [CARD], {CARD: True}, "signage")
    assert fine.ok and str(fine).startswith("ok")


def test_drm_cards_and_permissions_are_read_from_the_filesystem(tmp_path):
    folder = tmp_path / "dri"
    folder.mkdir()
    assert drm_cards(folder) == [] and drm_cards(tmp_path / "absent") == []
    card = folder / "card1"
    card.write_bytes(b"")
    (folder / "renderD128").write_bytes(b"")
    assert drm_cards(folder) == [card]
    os.chmod(card, 0o660)
    owner, group = card.stat().st_uid, card.stat().st_gid
    stranger = 4242 if owner != 4242 else 4343
    assert usable_by(card, stranger, {group}), "group members may"
    assert not usable_by(card, stranger, {group + 1}), "others may not"
    os.chmod(card, 0o666)
    assert usable_by(card, stranger, set())


def test_the_security_check_names_each_gap_and_its_fix(tmp_path):
    """docs/security.md's set-up, one gap at a time: no key, unsigned accepted, no user, no TLS."""
    from signage.config import Config, CommandsConfig, MqttConfig, TlsConfig
    from signage.kiosk.doctor import security_check

    key = "A" * 43 + "="
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    secured = dict(url="mqtts://broker:8883", username="lab/k1", password="x", tls=TlsConfig(ca=str(ca)),
                   commands=CommandsConfig(public_key=key))
    assert security_check(Config(mqtt=MqttConfig(**secured))).ok
    gaps = [({"commands": CommandsConfig()}, "acts on no command"),
            ({"commands": CommandsConfig(public_key=key, accept_unsigned=True)}, "any client"),
            ({"username": None}, "cannot tell this kiosk"),
            ({"url": "mqtt://broker:1883", "tls": None}, "travel in clear")]
    for change, said in gaps:
        check = security_check(Config(mqtt=MqttConfig(**secured | change)))
        assert not check.ok and said in check.detail and "signage fleet provision" in check.fix, change
