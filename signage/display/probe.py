"""What the installed SDL can do on this machine, asked without opening a window:
which video drivers it was built with, which one an environment chooses, whether a DRM
device is there for kmsdrm, and which displays a desktop driver (x11, wayland) finds."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def compiled_video_drivers() -> list[str]:
    """The video drivers compiled into the SDL that pygame loaded, lower case (kmsdrm, x11, ...)."""
    sdl = sdl_library()
    sdl.SDL_GetVideoDriver.restype = ctypes.c_char_p
    return [sdl.SDL_GetVideoDriver(i).decode().lower() for i in range(sdl.SDL_GetNumVideoDrivers())]


def sdl_library() -> ctypes.CDLL:
    """The libSDL2 pygame loaded (its bundled one), for the few calls pygame does not wrap."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame  # noqa: F401 (pyflakes) - importing it loads its bundled libSDL2

    library = _loaded_sdl()
    return ctypes.CDLL(library) if library else ctypes.CDLL("libSDL2-2.0.so.0")


def sdl_version() -> str:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return ".".join(str(part) for part in pygame.get_sdl_version())


def _loaded_sdl() -> str | None:
    """The path of the libSDL2 mapped into this process (pygame bundles its own)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "libSDL2-2" in path or "libSDL2.so" in path or "libSDL2-2.0.so" in path:
                    return path
    except OSError:
        pass
    return None


def drm_cards(folder: Path = Path("/dev/dri")) -> list[Path]:
    """The DRM card devices (/dev/dri/card*), the ones kmsdrm draws on."""
    try:
        return sorted(p for p in folder.iterdir() if p.name.startswith("card"))
    except OSError:
        return []


def usable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a user (uid, and the groups it is in) may read and write `path`."""
    try:
        stat = path.stat()
    except OSError:
        return False
    if uid == 0:
        return True
    mode = stat.st_mode
    if stat.st_uid == uid:
        return bool(mode & 0o200 and mode & 0o400)
    if stat.st_gid in gids:
        return bool(mode & 0o020 and mode & 0o040)
    return bool(mode & 0o002 and mode & 0o004)


def os_user(name: str | None) -> tuple[str, int, set[int]]:
    """(name, uid, groups) of a user, or of this process when name is None."""
    import grp
    import pwd

    if name is None:
        return pwd.getpwuid(os.getuid()).pw_name, os.getuid(), set(os.getgroups()) | {os.getgid()}
    entry = pwd.getpwnam(name)
    groups = {g.gr_gid for g in grp.getgrall() if name in g.gr_mem} | {entry.pw_gid}
    return name, entry.pw_uid, groups


def chosen_driver(env: Mapping[str, str]) -> tuple[str, str]:
    """The SDL video driver the kiosk will draw with under `env`, and why: the one
    SDL_VIDEODRIVER names; else x11 where DISPLAY is set (SDL 2 tries X before Wayland),
    wayland where only WAYLAND_DISPLAY is; else kmsdrm, straight to the panel."""
    named = env.get("SDL_VIDEODRIVER", "").strip()
    if named:
        return named.split(",")[0].strip().lower(), f"SDL_VIDEODRIVER={named}"
    if env.get("DISPLAY"):
        return "x11", f"DISPLAY={env['DISPLAY']}"
    if env.get("WAYLAND_DISPLAY"):
        return "wayland", f"WAYLAND_DISPLAY={env['WAYLAND_DISPLAY']}"
    return "kmsdrm", "neither DISPLAY nor WAYLAND_DISPLAY is set"


def desktop_sizes(driver: str, env: Mapping[str, str], timeout: float = 20.0) -> tuple[list[tuple[int, int]], str]:
    """The displays SDL's `driver` finds under `env` (their desktop sizes), or why it
    cannot start: asked in a child process, so that a window system that does not answer
    (or a driver that crashes) never takes the caller with it, and the caller's own SDL
    and environment stay untouched."""
    child_env = dict(env) | {"SDL_VIDEODRIVER": driver, "PYGAME_HIDE_SUPPORT_PROMPT": "1",
                             "PYTHONPATH": os.pathsep.join(filter(None, [str(_PROJECT), env.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, "-c", _ASK], env=child_env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"no answer within {timeout:.0f} s"
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return [], f"the probe ended with code {done.returncode}: {last[:200]}"
    return [tuple(size) for size in answer.get("sizes", [])], answer.get("error", "")


_PROJECT = Path(__file__).resolve().parents[2]
_ASK = """
import json, pygame
try:
    pygame.display.init()
    print(json.dumps({"sizes": [list(s) for s in pygame.display.get_desktop_sizes()]}))
except pygame.error as exc:
    print(json.dumps({"error": str(exc) or "SDL gave no reason"}))
"""
