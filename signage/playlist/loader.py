"""Load playlists/*.yaml into one validated Playlist, or report every problem.

Each file is parsed with positions and validated with pydantic; then the files are
checked together: ids unique across files, every referenced creative defined, media
files present, inside the playlist folder and of a supported format. Nothing
replaces the running playlist unless all of this passes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from signage.playlist.schema import (DEFAULT_DURATION, IMAGE_FORMATS, VIDEO_FORMATS, Creative, PlayItem,
                                     PlaylistFile, Rule)
from signage.validation import validate
from signage.yamlfile import Document, Problem, ProblemsError, load

PLAYLIST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Playlist:
    """Every playlist file merged: what the engine and the renderer work from."""

    creatives: dict[str, Creative]
    media: dict[str, Path]  # creative id -> absolute media path (images and videos)
    video_seconds: dict[str, float]  # creative id -> length of its video file
    default: list[PlayItem]
    default_min_show: float
    rules: list[Rule]  # by priority (highest first), then declaration order
    files: tuple[Path, ...] = field(default=())

    @classmethod
    def nothing(cls) -> "Playlist":
        """Nothing playable: the renderer shows the fallback card (no files, or all broken)."""
        return cls(creatives={}, media={}, video_seconds={}, default=[], default_min_show=0.0, rules=[])

    def seconds(self, creative_id: str) -> float:
        """How long a creative stays on screen: its duration, else its video's length."""
        creative = self.creatives[creative_id]
        return creative.seconds or self.video_seconds.get(creative_id) or DEFAULT_DURATION


def playlist_files(paths: list[Path]) -> list[Path]:
    """Files named directly, and the *.yaml of folders named (not recursive)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in PLAYLIST_SUFFIXES and p.is_file())
        else:
            found.append(path)
    return found


def load_playlist(paths: list[Path], base: Path | None = None) -> Playlist:
    """The merged playlist, or ProblemsError listing every problem in every file."""
    files = playlist_files(paths)
    problems: list[Problem] = []
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise ProblemsError([Problem(where, 1, 1, "", "no playlist files (*.yaml) found")])
    parsed: list[tuple[Path, Document, PlaylistFile]] = []
    for path in files:
        try:
            document = load(path, _display(path, base))
            parsed.append((path, document, validate(PlaylistFile, document)))
        except ProblemsError as exc:
            problems += exc.problems
    if not problems:
        playlist, problems = _combine(parsed)
        if not problems:
            return playlist
    raise ProblemsError(problems)


def _display(path: Path, base: Path | None) -> str:
    try:
        return str(path.relative_to(base or Path.cwd()))
    except ValueError:
        return str(path)


def _combine(parsed: list[tuple[Path, Document, PlaylistFile]]) -> tuple[Playlist | None, list[Problem]]:
    problems: list[Problem] = []
    creatives: dict[str, Creative] = {}
    media: dict[str, Path] = {}
    video_seconds: dict[str, float] = {}
    defined: dict[str, str] = {}  # id -> file:line where first defined
    rule_ids: dict[str, str] = {}
    for path, document, content in parsed:
        for i, creative in enumerate(content.creatives):
            where = ("creatives", i, "id")
            if creative.id in defined:
                problems.append(document.problem(where, f"creative '{creative.id}' is already defined at {defined[creative.id]}"))
                continue
            line, _ = document.position(where)
            defined[creative.id] = f"{document.file}:{line}"
            creatives[creative.id] = creative
            if creative.media is not None:
                found = _check_media(creative, path.parent, document, ("creatives", i, "media"))
                if isinstance(found, Problem):
                    problems.append(found)
                    continue
                media[creative.id] = found
                if creative.type == "video":
                    length = video_length(found)
                    if length is None:
                        problems.append(document.problem(("creatives", i, "media"),
                                                         f"'{creative.media}' cannot be decoded as a video"))
                    else:
                        video_seconds[creative.id] = length
        for i, rule in enumerate(content.rules):
            where = ("rules", i, "id")
            if rule.id in rule_ids or rule.id == "default":
                already = "is reserved for the default loop" if rule.id == "default" else f"is already used at {rule_ids[rule.id]}"
                problems.append(document.problem(where, f"rule id '{rule.id}' {already}"))
            rule_ids[rule.id] = f"{document.file}:{document.position(where)[0]}"

    known = sorted(creatives)
    default: list[PlayItem] = []
    rules: list[tuple[int, int, Rule]] = []
    default_min_show = 0.0
    for path, document, content in parsed:
        if content.default:
            default += content.default
            default_min_show = max(default_min_show, content.default_min_show)
            problems += _unknown(content.default, ("default",), document, known)
        for i, rule in enumerate(content.rules):
            problems += _unknown(rule.play, ("rules", i, "play"), document, known)
            rules.append((-rule.priority, len(rules), rule))
    if not default and not problems:
        path, document, _ = parsed[0]
        problems.append(Problem(document.file, 1, 1, "",
                                "no default loop: add `default:` with at least one creative id"))
    if problems:
        return None, problems
    return Playlist(creatives=creatives, media=media, video_seconds=video_seconds, default=default, default_min_show=default_min_show,
                    rules=[rule for _, _, rule in sorted(rules, key=lambda r: (r[0], r[1]))],
                    files=tuple(p for p, _, _ in parsed)), []


def _unknown(items: list[PlayItem], where: tuple, document: Document, known: list[str]) -> list[Problem]:
    problems = []
    for i, item in enumerate(items):
        if item.creative not in known:
            guess = difflib.get_close_matches(item.creative, known, n=1)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            problems.append(document.problem(where + (i,), f"unknown creative '{item.creative}'{hint}"))
    return problems


def _check_media(creative: Creative, folder: Path, document: Document, where: tuple) -> Path | Problem:
    relative = Path(creative.media)
    root = folder.resolve()
    if relative.is_absolute():
        return document.problem(where, f"'{creative.media}' is absolute; give a path relative to the playlist's folder")
    resolved = (root / relative).resolve()
    if not resolved.is_relative_to(root):
        return document.problem(where, f"'{creative.media}' points outside the playlist's folder")
    formats = IMAGE_FORMATS if creative.type == "image" else VIDEO_FORMATS
    if resolved.suffix.lower() not in formats:
        return document.problem(where, f"'{creative.media}' is not a supported {creative.type} format "
                                       f"({', '.join(formats)})")
    if not resolved.is_file():
        return document.problem(where, f"media file '{creative.media}' does not exist (paths are relative to "
                                       "the playlist's folder)")
    return resolved


def video_length(path: Path) -> float | None:
    """Seconds of a video from its container, or None when OpenCV cannot open it."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
        return frames / fps if frames > 0 and fps > 0 else None
    finally:
        capture.release()
