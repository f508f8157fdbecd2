"""Exactly one pygame distribution, pygame-ce, whose SDL has the kmsdrm video driver
(Raspberry Pi OS Lite has no desktop: without kmsdrm the kiosk stays dark)."""

from __future__ import annotations

import ctypes
import importlib.metadata
from pathlib import Path

import pytest


def test_pygame_ce_is_installed_and_pygame_is_not():
    assert importlib.metadata.version("pygame-ce")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pygame")


def bundled_sdl() -> Path:
    import pygame

    libs = Path(pygame.__file__).parent.parent / "pygame_ce.libs"
    found = sorted(libs.glob("libSDL2-*.so*"))
    assert found, f"no bundled libSDL2 in {libs}"
    return found[0]


def test_sdl_has_the_kmsdrm_video_driver_compiled_in():
    """Asked of SDL itself (SDL_GetVideoDriver lists what was compiled in, whether or
    not a device is present), in the library pygame-ce loads."""
    sdl = ctypes.CDLL(str(bundled_sdl()))
    sdl.SDL_GetVideoDriver.restype = ctypes.c_char_p
    drivers = [sdl.SDL_GetVideoDriver(i).decode() for i in range(sdl.SDL_GetNumVideoDrivers())]
    assert "KMSDRM" in drivers, drivers
    assert "x11" in drivers and "offscreen" in drivers, drivers


def test_sdl_ttf_can_shape():
    """HarfBuzz in SDL_ttf: what lets Arabic join and run right to left."""
    import pygame.font

    assert pygame.font.get_sdl_ttf_version() >= (2, 20, 0)
    assert hasattr(pygame.font.Font, "set_script") and hasattr(pygame.font.Font, "set_direction")
    assert sorted(bundled_sdl().parent.glob("libharfbuzz*")), "SDL_ttf is built with HarfBuzz"
