"""What every verb checks on its command line: numbers within bounds, settings models
validated under the names the operator typed, and files and folders to write that can
be written. Each refusal says what is wrong and what is allowed (argparse prints it
with the usage line and exits 2; ConfigError reaches the barrier in cli/__init__.py,
also exit 2)."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from signage.errors import ConfigError
from signage.patterns import PATTERN_HINTS


def seconds(low: float = 0.0, high: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds above `low` (and at most `high`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or not low < value <= high:
            most = f", at most {high:g}" if math.isfinite(high) else ""
            raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above {low:g}{most}")
        return value
    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; give {low} to {high}")
        return value
    return parse


def listed(item: Callable[[str], Any]) -> Callable[[str], list]:
    """An argparse type: comma-separated values, each parsed by `item`."""
    def parse(text: str) -> list:
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r}: give at least one value, comma-separated")
        return values
    return parse


def one_of(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(allowed)}")
        return text
    return parse


def broker_url(text: str) -> str:
    """An argparse type: a broker URL, checked by the one parser the config uses."""
    from signage.config import parse_broker_url

    try:
        parse_broker_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def matching(pattern: str) -> Callable[[str], str]:
    """An argparse type: text matching one of the config's patterns (NAME_PATTERN...),
    refused with the same words a config file gets."""

    def parse(text: str) -> str:
        if not re.match(pattern, text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {PATTERN_HINTS.get(pattern, pattern)}")
        return text
    return parse


def validated(model: type[BaseModel], values: dict[str, Any], options: dict[str, str]):
    """`model(**values)`, or ConfigError naming each bad value by the option the operator
    typed and its key: `--mqtt (mqtt.url): ...`."""
    from signage.validation import describe

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            option = options.get(str(error["loc"][0]))
            lines.append(f"{option} ({key}): {describe(error)}" if option else f"{key}: {describe(error)}")
        raise ConfigError("\n".join(lines)) from None


def output_file(option: str, path: Path, suffix: str) -> Path:
    """A file to write: `suffix`, in a folder that exists, not itself a folder or a device."""
    if path.suffix.lower() != suffix:
        raise ConfigError(f"{option} {path}: give a file name ending in {suffix}")
    if not path.parent.is_dir():
        raise ConfigError(f"{option} {path}: the folder {path.parent} does not exist; create it, or give a file in"
                          " an existing folder")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{option} {path}: it exists and is not a regular file (a folder or a device); give the"
                          f" path of a {suffix} file to write")
    return path


def output_folder(option: str, path: Path) -> Path:
    """A folder to write into, made if missing."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: it exists and is not a folder; give a folder (made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot be made ({exc.strerror}); give a folder this user can write")\
            from None
    return path


def input_file(option: str, path: Path) -> Path:
    """A file named explicitly to read: it must exist and be a regular file."""
    if not path.exists():
        raise ConfigError(f"{option} {path}: no such file")
    if not path.is_file():
        raise ConfigError(f"{option} {path}: it is not a regular file (a folder or a device); give a YAML file")
    return path
