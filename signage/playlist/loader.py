"""Load playlists/*.yaml into one validated Playlist, or report every problem.

Each file is parsed with positions and validated with pydantic; then the files are
checked together: ids unique across files, every referenced creative defined, media
files present, inside the playlist folder, of a supported format and, for images,
within the pixel budget (read from the header, never decoded). Nothing replaces the
running playlist unless all of this passes.

Every problem of every file is reported: files that parse are checked with each
other even when another file does not (only the checks that need every file, unknown
creative ids and the missing default loop, wait until all files parse, as the broken
file may hold what they look for).

A playlist file that is a symbolic link leaving the playlist folder is refused before
it is read, as media are: its content would otherwise reach messages and status.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from signage.imageinfo import DEFAULT_MAX_PIXELS, ImageError, image_size, megapixels
from signage.fields import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from signage.playlist.fileformat import (DEFAULT_DURATION, Creative, PlayItem,
                                     PlaylistFile, Rule)
from signage.validation import validate
from signage.yamlread import Document, Problem, ProblemsError, load

logger = logging.getLogger(__name__)

PLAYLIST_SUFFIXES = (".yaml", ".yml")

# Seconds of a video file, None when it cannot be decoded. The caller passes the display's
# (signage.display.videoinfo.video_length): the playlist package imports no decoder.
VideoLength = Callable[[Path], float | None]


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
    def nothing(cls) -> Playlist:
        """Nothing playable: the renderer shows the fallback card (no files, or all broken)."""
        return cls(creatives={}, media={}, video_seconds={}, default=[], default_min_show=0.0, rules=[])

    def seconds(self, creative_id: str) -> float:
        """How long a creative stays on screen: its duration, else its video's length."""
        creative = self.creatives[creative_id]
        return creative.seconds or self.video_seconds.get(creative_id) or DEFAULT_DURATION


def playlist_files(paths: list[Path]) -> list[Path]:
    """Files named directly, and the *.yaml of folders named (not recursive). Entries
    that are not regular files are kept so that loading can say what is wrong with them."""
    return [path for path, _ in _playlist_files(paths)]


def _playlist_files(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, the playlist folder it must stay in)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted((p, path) for p in path.iterdir() if p.suffix in PLAYLIST_SUFFIXES)
        else:
            found.append((path, path.parent))
    return found


@dataclass(frozen=True)
class LoadResult:
    """A load attempt: the playlist or every problem, and the files it depends on."""

    playlist: Playlist | None
    problems: list[Problem]
    watched: tuple[Path, ...]  # playlist files and the media they name, present or not


def load_playlist(paths: list[Path], base: Path | None = None,
                  max_image_pixels: int = DEFAULT_MAX_PIXELS, *, video_length: VideoLength) -> Playlist:
    """The merged playlist, or ProblemsError listing every problem in every file."""
    result = load_playlist_set(paths, base, max_image_pixels, video_length=video_length)
    if result.playlist is None:
        raise ProblemsError(result.problems)
    return result.playlist


def load_playlist_set(paths: list[Path], base: Path | None = None,
                      max_image_pixels: int = DEFAULT_MAX_PIXELS, *, video_length: VideoLength) -> LoadResult:
    """Like load_playlist, but never raises: the watcher also needs the files to watch."""
    try:
        files = _playlist_files(paths)
    except OSError as exc:
        where = ", ".join(str(p) for p in paths)
        return LoadResult(None, [Problem(where, 1, 1, "", f"cannot list the folder: {exc.strerror or exc}")], ())
    if not files:
        where = ", ".join(str(p) for p in paths)
        return LoadResult(None, [Problem(where, 1, 1, "", "no playlist files (*.yaml) found")], ())
    problems: list[Problem] = []
    parsed: list[tuple[Path, Document, PlaylistFile]] = []
    for path, folder in files:
        name = _display(path, base)
        try:
            real = _inside_or_refused(path, folder, name)
            document = load(real, name, follow=False)
            parsed.append((path, document, validate(PlaylistFile, document)))
        except ProblemsError as exc:
            problems += exc.problems
        except Exception as exc:  # a fault barrier: no file may take the caller down
            logger.error("unexpected %s while checking %s: %s (a bug in signage)", type(exc).__name__, name, exc)
            logger.debug("the traceback", exc_info=True)  # operators see no traceback; developers can
            problems.append(Problem(name, 1, 1, "", f"could not be checked ({type(exc).__name__});"
                                                    " this is a bug in signage, please report it"))
    complete = not problems
    try:
        playlist, more, media = _combine(parsed, complete, max_image_pixels, video_length)
    except Exception as exc:  # the same barrier for the checks across files
        logger.error("unexpected %s while checking the playlist files together: %s (a bug in signage)",
                     type(exc).__name__, exc)
        logger.debug("the traceback", exc_info=True)
        playlist, media = None, ()
        more = [Problem(_display(files[0][0], base), 1, 1, "", f"the files could not be checked together"
                        f" ({type(exc).__name__}); this is a bug in signage, please report it")]
    watched = tuple(path for path, _ in files) + media
    everything = sorted(problems + more, key=lambda p: (p.file, p.line, p.column))  # file by file
    return LoadResult(playlist if not everything else None, everything, watched)


STATUS_PROBLEMS = 10  # problems quoted in status; the log and `signage check` have them all


def summary(problems: list[Problem], limit: int = STATUS_PROBLEMS) -> str:
    """The problems as text for status (a retained MQTT message): the first few, and a count."""
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more problem(s): run `signage check` to see them all")
    return "\n".join(lines)


def _inside_or_refused(path: Path, folder: Path, name: str) -> Path:
    """The file to read: the path itself, or the target of a symlink that stays inside
    its playlist folder. Where else a link points is not said (the target's name and
    content stay private)."""
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
        inside = target.is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # dangling or looping link
        raise ProblemsError([Problem(name, 1, 1, "", "a symbolic link to nothing readable; replace it with"
                                                     " the playlist file itself")]) from None
    if not inside:
        raise ProblemsError([Problem(name, 1, 1, "", "a symbolic link to a file outside the playlist folder;"
                                                     " links may point only inside it: copy the file in instead")])
    return target


def _display(path: Path, base: Path | None) -> str:
    try:
        return str(path.relative_to(base or Path.cwd()))
    except ValueError:
        return str(path)


def _combine(parsed: list[tuple[Path, Document, PlaylistFile]], complete: bool, max_image_pixels: int,
             video_length: VideoLength) -> tuple[Playlist | None, list[Problem], tuple[Path, ...]]:
    """Check the parsed files together. `complete`: every file parsed, so references
    between files can be judged."""
    problems: list[Problem] = []
    watched: list[Path] = []
    creatives: dict[str, Creative] = {}
    media: dict[str, Path] = {}
    video_seconds: dict[str, float] = {}
    defined: dict[str, str] = {}  # id -> file:line where first defined
    rule_ids: dict[str, str] = {}
    for path, document, content in parsed:
        for i, creative in enumerate(content.creatives):
            where = ("creatives", i, "id")
            duplicate = creative.id in defined
            if duplicate:
                problems.append(document.problem(
                    where, f"creative '{creative.id}' is already defined at {defined[creative.id]}"))
            else:
                line, _ = document.position(where)
                defined[creative.id] = f"{document.file}:{line}"
                creatives[creative.id] = creative
            if creative.media is not None:
                found = _check_media(creative, creative.media, path.parent, document, ("creatives", i, "media"),
                                     max_image_pixels, watched)
                if isinstance(found, Problem):
                    problems.append(found)
                    continue
                if duplicate:  # its media checked all the same: every problem at once
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
                already = ("is reserved for the default loop" if rule.id == "default"
                           else f"is already used at {rule_ids[rule.id]}")
                problems.append(document.problem(where, f"rule id '{rule.id}' {already}"))
            rule_ids[rule.id] = f"{document.file}:{document.position(where)[0]}"

    known = sorted(creatives)
    default: list[PlayItem] = []
    rules: list[tuple[int, int, Rule]] = []
    default_min_show = 0.0
    for _path, document, content in parsed:
        if content.default:
            default += content.default
            default_min_show = max(default_min_show, content.default_min_show)
            if complete:
                problems += _unknown(content.default, ("default",), document, known)
        for i, rule in enumerate(content.rules):
            if complete:
                problems += _unknown(rule.play, ("rules", i, "play"), document, known)
            rules.append((-rule.priority, len(rules), rule))
    if not default and not problems and complete:
        path, document, _ = parsed[0]
        problems.append(Problem(document.file, 1, 1, "",
                                "no default loop: add `default:` with at least one creative id"))
    if problems or not complete:
        return None, problems, tuple(watched)
    return Playlist(creatives=creatives, media=media, video_seconds=video_seconds, default=default,
                    default_min_show=default_min_show,
                    rules=[rule for _, _, rule in sorted(rules, key=lambda r: (r[0], r[1]))],
                    files=tuple(p for p, _, _ in parsed)), [], tuple(watched)


def _unknown(items: list[PlayItem], where: tuple, document: Document, known: list[str]) -> list[Problem]:
    problems = []
    for i, item in enumerate(items):
        if item.creative not in known:
            guess = difflib.get_close_matches(item.creative, known, n=1)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            problems.append(document.problem(where + (i,), f"unknown creative '{item.creative}'{hint}"))
    return problems


def _check_media(creative: Creative, media: str, folder: Path, document: Document, where: tuple,
                 max_image_pixels: int, watched: list[Path]) -> Path | Problem:
    relative = Path(media)
    root = folder.resolve()
    if relative.is_absolute():
        return document.problem(where, f"'{creative.media}' is absolute; give a path relative to the playlist's folder")
    resolved = (root / relative).resolve()
    if not resolved.is_relative_to(root):
        return document.problem(where, f"'{creative.media}' points outside the playlist's folder")
    watched.append(resolved)
    formats = IMAGE_SUFFIXES if creative.type == "image" else VIDEO_SUFFIXES
    if resolved.suffix.lower() not in formats:
        return document.problem(where, f"'{creative.media}' is not a supported {creative.type} format "
                                       f"({', '.join(formats)})")
    if resolved.is_dir():
        return document.problem(where, f"'{creative.media}' is a folder; give the path of a file in it")
    if not resolved.is_file():
        return document.problem(where, f"media file '{creative.media}' does not exist (paths are relative to "
                                       "the playlist's folder)")
    if creative.type == "image":
        try:
            width, height = image_size(resolved)
        except ImageError as exc:
            return document.problem(where, f"'{creative.media}' cannot be shown: {exc.reason}")
        if width * height > max_image_pixels:
            return document.problem(where, f"'{creative.media}' is {width}x{height} ({megapixels(width * height)} MP);"
                                           f" at most {megapixels(max_image_pixels)} MP is accepted"
                                           " (display.max_image_pixels)")
    return resolved

