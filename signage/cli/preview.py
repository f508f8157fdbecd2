"""`signage preview`: operators see their creatives in a window, as the default loop
would cycle them, or one creative rendered to a PNG. Creatives only, never a camera."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from signage.cli.options import output_file
from signage.config import DisplayConfig, NoticeConfig
from signage.display.readback import has_video_frame, screenshot_png
from signage.display.videoinfo import video_length
from signage.kiosk.content import content_of
from signage.errors import ConfigError
from signage.playlist.loader import load_playlist

logger = logging.getLogger(__name__)
SETTLE_TIMEOUT_S = 10.0


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise ConfigError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1920x1080") from exc
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise ConfigError(f"--size {text!r}: each side must be 16 to 16384 pixels")
    return width, height


def add(commands) -> None:
    parser = commands.add_parser("preview", help="show a playlist's creatives in a window, or one as a PNG")
    parser.add_argument("playlist", help="playlist file or folder")
    parser.add_argument("--creative", help="only this creative")
    parser.add_argument("--size", help="window size WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--rotate", type=int, choices=[0, 90, 180, 270], default=0)
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="render one steady frame to a PNG and exit (works with SDL_VIDEODRIVER=dummy)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    screenshot = output_file("--screenshot", Path(args.screenshot), ".png") if args.screenshot else None
    return preview(Path(args.playlist), creative=args.creative, size=parse_size(args.size) if args.size else None,
                   rotation=args.rotate, screenshot=screenshot)


def preview(playlist_path: Path, creative: str | None = None, size: tuple[int, int] | None = None,
            rotation: int = 0, screenshot: Path | None = None) -> int:
    from signage.display.renderer import Ended, Failed, Renderer, WindowClosed

    playlist = load_playlist([playlist_path], video_length=video_length)
    order = [creative] if creative else [item.creative for item in playlist.default]
    if creative and creative not in playlist.creatives:
        raise ConfigError(f"--creative {creative!r} is not in the playlist "
                          f"(creatives: {', '.join(sorted(playlist.creatives))})")
    config = DisplayConfig(fullscreen=False, size=size or (1280, 720), rotation=rotation,
                           notice=NoticeConfig(enabled=False))
    renderer = Renderer(config)
    renderer.open()
    try:
        if screenshot:
            return _screenshot(renderer, playlist, order[0], screenshot)
        index = 0
        while True:
            showing = order[index % len(order)]
            renderer.show(content_of(playlist, showing))
            ends = time.monotonic() + playlist.seconds(showing)
            logger.info("showing %s", showing)
            while time.monotonic() < ends:
                events = renderer.frame()
                if any(isinstance(e, WindowClosed) for e in events):
                    return 0
                if any(isinstance(e, (Ended, Failed)) for e in events):
                    break
            index += 1
    except KeyboardInterrupt:
        return 0
    finally:
        renderer.close()


def _screenshot(renderer, playlist, creative: str, path: Path) -> int:
    """Render until the creative is steady on screen (loaded, transition over), then save."""
    content = content_of(playlist, creative)
    renderer.show(content)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        renderer.frame()
        settled = renderer.stats.showing == creative and time.monotonic() - renderer.stats.since >= content.fade_seconds
        if settled and (content.type != "video" or has_video_frame(renderer)):
            renderer.frame()
            _save(renderer, path)
            print(f"wrote {path}")
            return 0
        if renderer.stats.showing == "fallback" and renderer.stats.errors:
            break
    reasons = [error.split(": ", 1)[-1] for error in renderer.stats.errors] or ["timed out"]
    raise ConfigError(f"creative {creative} cannot be shown: {'; '.join(reasons)}. "
                      f"On the kiosk the fallback card would show instead; no screenshot written.")


def _save(renderer, path: Path) -> None:
    """Beside the target, synced, then renamed onto it: a full disk leaves no half-written PNG."""
    data = screenshot_png(renderer)
    umask = os.umask(0)
    os.umask(umask)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~umask)  # as any new file would be, not mkstemp's 0600
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"--screenshot {path}: cannot be written ({exc.strerror}); give a .png path in a folder"
                          " with room that this user can write") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
