"""Running a real kiosk inside a test: its config, the kiosk in the main thread with a
script beside it, and what is on screen. The `controller_for` fixture (conftest.py)
builds one against the test's Xvfb and Mosquitto."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

from signage.config import Config, load_config
from signage.modelfiles import PROJECT_ROOT
from tests.support.waiting import wait_for

E2E = PROJECT_ROOT / "tests" / "playlists" / "e2e"
DEFAULT_LOOP = {"idle-a", "idle-b"}


def schedule_only(tmp_path: Path) -> Path:
    """The end-to-end playlist without its audience rule, where make_config looks for it:
    a kiosk whose plays are published as they end (with an audience rule, every play is
    held until its hour is over: docs/privacy.md)."""
    playlists = tmp_path / "playlists"
    playlists.mkdir(parents=True, exist_ok=True)
    text = (E2E / "e2e.yaml").read_text()
    (playlists / "e2e.yaml").write_text(text[:text.index("rules:")])
    return playlists


def make_config(tmp_path: Path, broker_url: str, **overrides) -> Config:
    playlists = tmp_path / "playlists"
    if not playlists.exists():
        shutil.copytree(E2E, playlists)
    settings = {
        "site": "lab", "device": "faults", "playlists": str(playlists),
        "display": "{fullscreen: false, size: [320, 180], notice: {enabled: true}}",
        "vision": "{max_fps: 10}",
        "paths": f"{{spool: {tmp_path / 'spool.sqlite3'}}}",
        "mqtt": f"{{url: '{broker_url}', interval: 1, keepalive: 5}}",
        **overrides,
    }
    text = "\n".join(f"{key}: {value}" for key, value in settings.items())
    path = tmp_path / "config.yaml"
    path.write_text(text + "\n")
    return load_config(path), path


def run_with(controller, script) -> None:
    """The controller in this (main) thread, the fault script beside it."""
    failure = []

    def scripted():
        try:
            wait_for(lambda: getattr(controller, "renderer", None) and controller.renderer.stats.ticks > 5,
                     "the loop turning")
            script(controller)
        except BaseException as exc:  # reported after the controller stopped
            failure.append(exc)
        finally:
            controller.stop()

    thread = threading.Thread(target=scripted, daemon=True)
    thread.start()
    assert controller.run() == 0
    thread.join(timeout=10)
    if failure:
        raise failure[0]


def on_screen(controller) -> str:
    stats = controller.renderer.stats
    assert stats.state in ("ok", "starting") and stats.ticks > 0, "something is on screen"
    return stats.showing


def refuse_display_size(monkeypatch, size: tuple[int, int]) -> None:
    """Renderers for `size` fail to open with a DisplayError, as a panel without that mode
    does; every other size opens for real."""
    from signage.display.renderer import DisplayError, Renderer

    real_open = Renderer.open

    def open_unless(renderer):
        if renderer.config.size == size:
            raise DisplayError(f"no such mode: {size[0]}x{size[1]}")
        real_open(renderer)

    monkeypatch.setattr(Renderer, "open", open_unless)


def within_now(hours_before: int = 1, hours_after: int = 3) -> str:
    """A privacy schedule (YAML) of one daily window around now."""
    now = dt.datetime.now()
    start, end = now - dt.timedelta(hours=hours_before), now + dt.timedelta(hours=hours_after)
    return f"[{{start: '{start:%H:%M}', end: '{end:%H:%M}'}}]"
