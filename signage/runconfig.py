"""The configuration `signage run` uses: config.yaml (if present) plus command-line
overrides, so integrators and tests need no copy of the file."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from signage.config import Config, SourceConfig, load_config
from signage.errors import ConfigError
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


def effective_config(args: argparse.Namespace) -> tuple[Config, Path | None]:
    path = Path(args.config)
    config = load_config(path) if path.is_file() else Config()
    update: dict = {}
    if args.source:
        update["source"] = source_from_spec(args.source, config.source)
    if args.mqtt:
        update["mqtt"] = config.mqtt.model_copy(update={"url": args.mqtt})
    for key in ("site", "device", "playlists"):
        if getattr(args, key):
            update[key] = getattr(args, key)
    if args.fullscreen is not None:
        update["display"] = config.display.model_copy(update={"fullscreen": args.fullscreen})
    # Validate the overrides like the file: an invalid --site is an error, not a topic.
    try:
        merged = Config.model_validate({**config.model_dump(), **{k: (v.model_dump() if hasattr(v, "model_dump") else v)
                                                                  for k, v in update.items()}})
    except ValidationError as exc:
        raise ConfigError("\n".join(_option_message(error) for error in exc.errors(include_url=False))) from None
    return merged, (path if path.is_file() else None)


OPTIONS = {"mqtt": "--mqtt", "source": "--source", "site": "--site", "device": "--device",
           "playlists": "--playlists"}


def _option_message(error: dict) -> str:
    """A command-line override that does not validate, named as the operator typed it."""
    from signage.validation import describe

    key = ".".join(str(part) for part in error["loc"])
    option = OPTIONS.get(str(error["loc"][0]), key)
    return f"{option} ({key}): {describe(error)}"
