"""`signage check`: config files and playlists, each file recognised by what it holds.

A config file is a mapping whose keys are config sections (site, mqtt, paths...); a
playlist file holds creatives, default, rules. The name does not matter, so
`signage check /etc/signage/kiosk.yaml` checks a config as a config. Files whose keys
say nothing (empty, broken YAML, unknown keys only) are taken by their name:
config.yaml/config.yml as a config, anything else as a playlist.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from signage.config import CONFIG_KEYS, Config, load_config
from signage.display.videoinfo import video_length
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist import overnight
from signage.playlist.loader import load_playlist
from signage.playlist.fileformat import PlaylistFile
from signage.yamlread import Problem, ProblemsError, load

logger = logging.getLogger(__name__)

PLAYLIST_KEYS = frozenset(PlaylistFile.model_fields)
CONFIG_NAMES = ("config.yaml", "config.yml")


def kind_of(path: Path) -> str:
    """'config' or 'playlist', from the top-level keys of the file."""
    if path.is_dir():
        return "playlist"
    by_name = "config" if path.name in CONFIG_NAMES else "playlist"
    try:
        data = load(path).data
    except Exception:  # ProblemsError: its loader reports the same problem
        return by_name
    if not isinstance(data, dict):
        return by_name
    config, playlist = len(CONFIG_KEYS & set(data)), len(PLAYLIST_KEYS & set(data))
    if config != playlist:
        return "config" if config > playlist else "playlist"
    return by_name


def check(paths: list[Path]) -> tuple[list[Problem], list[str]]:
    """(every problem, the lines saying what passed). No paths: config.yaml if present,
    and the playlists folder it names (else playlists/)."""
    default = not paths
    if default:
        paths = [Path(name) for name in CONFIG_NAMES if Path(name).is_file()][:1]
    configs = [p for p in paths if kind_of(p) == "config"]
    playlists = [p for p in paths if p not in configs]
    problems: list[Problem] = []
    lines: list[str] = []
    loaded: list[Config] = []
    for path in configs:
        try:
            loaded.append(load_config(path))
            lines.append(f"ok: {path} (config)")
        except ProblemsError as exc:
            problems += exc.problems
        except Exception as exc:  # the barrier: check never ends in a traceback
            problems.append(_internal(path, exc))
    if default:
        playlists = [Path(loaded[0].playlists) if loaded else Path("playlists")]
    budget = loaded[0].display.max_image_pixels if loaded else DEFAULT_MAX_PIXELS
    if playlists:
        try:
            playlist = load_playlist(playlists, max_image_pixels=budget, video_length=video_length)
            lines.append(f"ok: {len(playlist.creatives)} creatives, {len(playlist.rules)} rules, default loop of"
                         f" {len(playlist.default)} in {len(playlist.files)} file(s)")
            lines += glyph_warnings(playlist)
            lines += [f"info: {note}" for note in overnight.notes(playlist.files)]
        except ProblemsError as exc:
            problems += exc.problems
        except Exception as exc:
            problems.append(_internal(playlists[0], exc))
    return problems, lines


def glyph_warnings(playlist) -> list[str]:
    """A warning per card whose text has characters no installed font can draw (they
    would show as boxes); the playlist is still valid."""
    from signage.display.fonts import missing_glyphs

    warnings = []
    for creative in playlist.creatives.values():
        missing = missing_glyphs(creative.text) if creative.type == "card" and creative.text else []
        if missing:
            shown = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing[:8]) + (" ..." if len(missing) > 8 else "")
            warnings.append(f"warning: creative {creative.id}: no installed font draws {shown}; they show as boxes "
                            "(install fonts-noto-core, fonts-noto-cjk, fonts-noto-color-emoji, or change the text)")
    return warnings


def _internal(path: Path, exc: Exception) -> Problem:
    logger.debug("unexpected error while checking %s", path, exc_info=True)
    return Problem(str(path), 1, 1, "", f"could not be checked ({type(exc).__name__}); this is a bug in signage,"
                                        " please report it")


def add(commands) -> None:
    parser = commands.add_parser("check", help="validate config and playlist files; print every problem, exit 1 if any")
    parser.add_argument("paths", nargs="*", help="config files, playlist files or folders; each file is recognised"
                        " by its keys (default: config.yaml if present, and its playlists folder)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Every problem of every file, exit 1 if any. No input may end in a traceback."""
    problems, lines = check([Path(p) for p in args.paths])
    for line in lines:
        print(line)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0
