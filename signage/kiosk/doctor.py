"""`signage doctor`: is this machine ready to run the kiosk unattended? One line per
thing that must work on the kiosk — the display it will use (x11, wayland, or kmsdrm and
its DRM device), the camera, the models, the Edge TPU, the broker and how it is secured —
each ok or a problem with its fix, before the integrator enables the systemd unit."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from signage.config import Config


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"{'ok' if self.ok else 'PROBLEM':8} {self.what}: {self.detail}"
        return line + (f"\n{'':8} fix: {self.fix}" if self.fix and not self.ok else "")


def kmsdrm_check(drivers: list[str], sdl_version: str, cards: list[Path], usable: dict[Path, bool],
                 user: str) -> Check:
    """Can SDL draw straight to the panel? Tells 'not compiled in' from 'no device here'
    from 'no permission'."""
    if "kmsdrm" not in drivers:
        return Check("display", False, f"the installed SDL {sdl_version} was built without the kmsdrm video "
                     f"driver (it has: {', '.join(drivers) or 'none'}); without a desktop the screen stays dark",
                     "use pygame-ce, not pygame: pip uninstall -y pygame && pip install pygame-ce "
                     "(make setup does this)")
    if not cards:
        return Check("display", False, "SDL has kmsdrm, but there is no DRM device (/dev/dri/card*) here",
                     "enable the KMS driver (Raspberry Pi: dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt), "
                     "or run under a desktop with SDL_VIDEODRIVER=x11 or wayland")
    if not any(usable.values()):
        names = ", ".join(str(c) for c in cards)
        return Check("display", False, f"{names} exist but user {user} cannot open them",
                     f"sudo usermod -aG video,render {user} (the unit also needs DeviceAllow=char-drm rw)")
    return Check("display", True, f"SDL {sdl_version} has kmsdrm; "
                 f"{', '.join(str(c) for c, ok in usable.items() if ok)} usable by {user}")


def display_check(user: str | None, screen: int = 0, env: Mapping[str, str] | None = None) -> Check:
    """The display the kiosk will use under this environment (probe.chosen_driver): a
    desktop's x11 or wayland, asked for its displays; else kmsdrm, checked for its device."""
    from signage.display.probe import (chosen_driver, compiled_video_drivers, desktop_sizes, drm_cards, os_user,
                                       sdl_version, usable_by)

    env = os.environ if env is None else env
    driver, why = chosen_driver(env)
    drivers, version = compiled_video_drivers(), sdl_version()
    if driver == "kmsdrm":
        name, uid, groups = os_user(user)
        cards = drm_cards()
        found = kmsdrm_check(drivers, version, cards, {card: usable_by(card, uid, groups) for card in cards}, name)
        return Check(found.what, found.ok, f"kmsdrm ({why}): {found.detail}", found.fix)
    return desktop_check(driver, why, drivers, version, screen, lambda: desktop_sizes(driver, env))


def desktop_check(driver: str, why: str, drivers: list[str], version: str, screen: int,
                  sizes: Callable[[], tuple[list[tuple[int, int]], str]]) -> Check:
    """A driver other than kmsdrm: compiled in, drawing somewhere, and finding the
    display `display.display` names."""
    if driver not in drivers:
        return Check("display", False, f"{why}: the installed SDL {version} has no '{driver}' video driver (it "
                     f"has: {', '.join(drivers)})", "set SDL_VIDEODRIVER to one of those, or unset it")
    if driver in HEADLESS:
        return Check("display", False, f"{why}: SDL draws nowhere, nothing is shown on the screen",
                     "unset SDL_VIDEODRIVER (kmsdrm without a desktop), or set it to x11 or wayland")
    found, error = sizes()
    if error or not found:
        return Check("display", False, f"{driver} ({why}): SDL cannot open it: {error or 'no display found'}",
                     FIXES.get(driver, "check the window system, or unset the variable to draw with kmsdrm"))
    if screen >= len(found):
        return Check("display", False, f"{driver} ({why}): display.display is {screen}, but {driver} has "
                     f"{len(found)} display{'s' if len(found) > 1 else ''} (0 to {len(found) - 1})",
                     f"set display.display to 0 to {len(found) - 1}")
    width, height = found[screen]
    return Check("display", True, f"{driver} ({why}): display {screen} is {width}x{height}")


HEADLESS = ("dummy", "offscreen", "evdev")  # drivers that show nothing on a screen
FIXES = {"x11": "start the X session, let the kiosk's user reach it (xhost +SI:localuser:signage), or unset "
                "DISPLAY to draw with kmsdrm",
         "wayland": "start the Wayland compositor and check WAYLAND_DISPLAY and XDG_RUNTIME_DIR, or unset "
                    "WAYLAND_DISPLAY to draw with kmsdrm"}


def camera_check(config: Config) -> Check:
    from signage.kiosk.vision import open_configured_source

    kind = config.source.kind
    if kind in ("video", "images"):
        path = Path(config.source.path)
        return Check("camera", path.exists(), f"source is the {kind} {path} (no camera)"
                     + ("" if path.exists() else ": it does not exist"), "set source.path, or source.kind: camera")
    source = open_configured_source(config)
    try:
        for _ in range(40):  # up to ~10 s: a camera may take a moment to deliver
            if source.read() is not None:
                return Check("camera", True, f"{source.description} delivers frames")
        return Check("camera", False, f"{source.description} delivers no frames ({source.state.value})",
                     "check the cable and `v4l2-ctl --list-devices`; the service user needs the video group")
    finally:
        source.close()


def models_check(config: Config) -> Check:
    from signage import modelfiles

    directory = Path(config.paths.models) if config.paths.models else modelfiles.models_dir()
    bad = [f"{asset.file} {state}" for asset in modelfiles.models().values()
           if (state := modelfiles.status(asset, directory)) != "ok"]
    if bad:
        return Check("models", False, f"in {directory}: {', '.join(bad)}", modelfiles.FETCH_HINT)
    return Check("models", True, f"every pinned model verified in {directory}")


def edgetpu_check(config: Config) -> Check:
    if config.vision.delegate != "edgetpu":
        return Check("edge tpu", True, "not configured (vision.delegate: none)")
    try:
        ctypes.CDLL("libedgetpu.so.1")
    except OSError as exc:
        return Check("edge tpu", False, f"libedgetpu.so.1 cannot be loaded ({exc})",
                     "install libedgetpu1-std from Coral's apt repository, or set vision.delegate: none")
    return Check("edge tpu", True, "libedgetpu.so.1 loads")


def broker_check(config: Config) -> Check:
    from signage.wire.client import probe_broker

    problem = probe_broker(config.mqtt)
    if problem:
        return Check("broker", False, problem, f"check mqtt.url ({config.mqtt.url}), the network and the "
                     "credentials; the kiosk spools until the broker answers")
    return Check("broker", True, f"{config.mqtt.url} accepts the connection")


def security_check(config: Config) -> Check:
    """Is this kiosk set up as docs/security.md says: its own broker identity over TLS, and
    commands only from the fleet's key?"""
    mqtt, fix = config.mqtt, "`signage fleet provision SITE/DEVICE` prints the lines (README: Securing a fleet)"
    if mqtt.commands.public_key is None and not mqtt.commands.accept_unsigned:
        return Check("security", False, "no mqtt.commands.public_key: this kiosk acts on no command", fix)
    if mqtt.commands.accept_unsigned:
        return Check("security", False, "mqtt.commands.accept_unsigned is true: any client that may publish on its "
                     "command topics can command it", "only with a broker ACL that lets no one else; " + fix)
    if not mqtt.username:
        return Check("security", False, "no mqtt.username: the broker cannot tell this kiosk from any other "
                     "client", fix)
    if not (mqtt.url.startswith(("mqtts:", "ssl:")) or mqtt.tls):
        return Check("security", False, f"{mqtt.url} is not TLS: the password and the telemetry travel in clear",
                     "use mqtts:// and mqtt.tls.ca; " + fix)
    return Check("security", True, f"its own broker identity ({mqtt.username}) over TLS; commands only signed by "
                 "the fleet")


def diagnose(config: Config, user: str | None = None) -> list[Check]:
    checks = []
    probes = {"display": lambda: display_check(user, config.display.display), "camera": lambda: camera_check(config),
              "models": lambda: models_check(config), "edge tpu": lambda: edgetpu_check(config),
              "broker": lambda: broker_check(config), "security": lambda: security_check(config)}
    for what, probe in probes.items():
        try:
            checks.append(probe())
        except Exception as exc:  # noqa: BLE001 - a probe that breaks is itself a finding
            checks.append(Check(what, False, f"the check itself failed: {type(exc).__name__}: {exc}"))
    return checks
