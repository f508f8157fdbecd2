"""`signage doctor` checks the display the kiosk will actually use: x11 where DISPLAY is
set (a real Xvfb here), wayland where WAYLAND_DISPLAY is, kmsdrm otherwise; and a
desktop that is named but does not answer is a problem with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from signage.kiosk.doctor import display_check
from signage.modelfiles import PROJECT_ROOT


def free_display() -> str:
    return next(f":{n}" for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())


def test_x11_where_display_is_set(xvfb):
    check = display_check(None, 0, env={"DISPLAY": xvfb})
    assert check.ok, check
    assert check.detail == f"x11 (DISPLAY={xvfb}): display 0 is 1920x1080"
    beyond = display_check(None, 2, env={"DISPLAY": xvfb})
    assert not beyond.ok and "display.display is 2, but x11 has 1 display (0 to 0)" in beyond.detail
    named = display_check(None, 0, env={"DISPLAY": xvfb, "SDL_VIDEODRIVER": "x11"})
    assert named.ok and named.detail.startswith("x11 (SDL_VIDEODRIVER=x11)")


def test_a_desktop_named_but_not_there_is_a_problem_with_its_fix(tmp_path):
    gone = free_display()
    x11 = display_check(None, 0, env={"DISPLAY": gone})
    assert not x11.ok and x11.detail.startswith(f"x11 (DISPLAY={gone}): SDL cannot open it")
    assert "unset DISPLAY to draw with kmsdrm" in x11.fix
    wayland = display_check(None, 0, env={"WAYLAND_DISPLAY": "wayland-none", "XDG_RUNTIME_DIR": str(tmp_path)})
    assert not wayland.ok and wayland.detail.startswith("wayland (WAYLAND_DISPLAY=wayland-none): SDL cannot open")
    assert "WAYLAND_DISPLAY" in wayland.fix


def test_no_display_at_all_checks_kmsdrm():
    check = display_check(None, 0, env={})
    assert check.detail.startswith("kmsdrm (neither DISPLAY nor WAYLAND_DISPLAY is set): ")
    if not any(Path("/dev/dri").glob("card*")):  # this machine: no DRM device
        assert not check.ok and "no DRM device" in check.detail and "vc4-kms-v3d" in check.fix


def test_a_driver_that_shows_nothing_or_is_not_there_is_a_problem():
    dummy = display_check(None, 0, env={"SDL_VIDEODRIVER": "dummy", "DISPLAY": ":0"})
    assert not dummy.ok and "draws nowhere" in dummy.detail and "unset SDL_VIDEODRIVER" in dummy.fix
    unknown = display_check(None, 0, env={"SDL_VIDEODRIVER": "directfb"})
    assert not unknown.ok and "has no 'directfb' video driver (it has: x11" in unknown.detail


def test_the_command_on_a_desktop_under_x_finds_no_display_problem(tmp_path, xvfb):
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{kind: video, path: {tmp_path / 'absent.mp4'}}}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "signage.cli", "doctor", "--config", str(config)],
                            capture_output=True, text=True, env=env | {"DISPLAY": xvfb}, cwd=PROJECT_ROOT, timeout=120)
    display = next(line for line in result.stdout.splitlines() if line.split(maxsplit=1)[1:2]
                   and line.split(maxsplit=1)[1].startswith("display:"))
    assert display.startswith("ok") and f"x11 (DISPLAY={xvfb})" in display, result.stdout + result.stderr
