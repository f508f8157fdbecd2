"""`signage run`: the kiosk, on config.yaml (if present) plus command-line overrides,
so integrators and tests need no copy of the file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from signage.cli.options import input_file, seconds, validated
from signage.config import Config, SourceConfig, load_config
from signage.fields import IMAGE_SUFFIXES


def source_from_spec(spec: str, base: SourceConfig) -> SourceConfig:
    """--source: 'auto', a camera index or /dev/videoN, a video file, or an image folder."""
    if spec == "auto":
        return base.model_copy(update={"kind": "auto"})
    if spec.isdigit() or spec.startswith("/dev/video"):
        return base.model_copy(update={"kind": "camera", "device": spec})
    path = Path(spec)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return base.model_copy(update={"kind": "images", "path": spec})
    return base.model_copy(update={"kind": "video", "path": spec, "loop": False})


def effective_config(path: Path, source: str | None = None, mqtt: str | None = None, site: str | None = None,
                     device: str | None = None, playlists: str | None = None,
                     fullscreen: bool | None = None) -> tuple[Config, Path | None]:
    """The file's configuration (defaults when there is no file) with the overrides given."""
    config = load_config(path) if path.is_file() else Config()
    update: dict[str, Any] = {}
    if source:
        update["source"] = source_from_spec(source, config.source)
    if mqtt:
        update["mqtt"] = config.mqtt.model_copy(update={"url": mqtt})
    for key, value in (("site", site), ("device", device), ("playlists", playlists)):
        if value:
            update[key] = value
    if fullscreen is not None:
        update["display"] = config.display.model_copy(update={"fullscreen": fullscreen})
    # Validate the overrides like the file: an invalid --site is an error, not a topic.
    merged = validated(Config, {**config.model_dump(), **{k: (v.model_dump() if hasattr(v, "model_dump") else v)
                                                          for k, v in update.items()}}, OPTIONS)
    return merged, (path if path.is_file() else None)


OPTIONS = {"mqtt": "--mqtt", "source": "--source", "site": "--site", "device": "--device",
           "playlists": "--playlists"}


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="configuration file (default: config.yaml if there is one, else the defaults)")
    parser.add_argument("--source", help="camera index, /dev/videoN, picamera[:N], video file, image folder, or auto")
    parser.add_argument("--mqtt", metavar="URL", help="broker, mqtt://host:port or mqtts://host:port")
    parser.add_argument("--site")
    parser.add_argument("--device")
    parser.add_argument("--playlists", metavar="DIR")
    screen = parser.add_mutually_exclusive_group()
    screen.add_argument("--windowed", dest="fullscreen", action="store_false", default=None)
    screen.add_argument("--fullscreen", dest="fullscreen", action="store_true")


def config_of(args: argparse.Namespace) -> tuple[Config, Path | None]:
    """A --config given must be there (a typo would run on the defaults); config.yaml may be missing."""
    path = input_file("--config", Path(args.config)) if args.config else Path("config.yaml")
    return effective_config(path, source=args.source, mqtt=args.mqtt, site=args.site,
                            device=args.device, playlists=args.playlists, fullscreen=args.fullscreen)


def add(commands) -> None:
    parser = commands.add_parser("run", help="run the kiosk controller")
    add_overrides(parser)
    parser.add_argument("--duration", type=seconds(), metavar="SECONDS",
                        help="run this long (or until a non-looping video source ends), then stop as on SIGTERM")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from signage.kiosk.app import Kiosk

    config, path = config_of(args)
    return Kiosk(config, config_path=path, duration=args.duration, reread=lambda: config_of(args)[0]).run()
