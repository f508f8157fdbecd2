"""Every target of a release checked as the screens will check it: the device's own
playlist loader (`signage check`: every file, media included, image sizes, videos
decoded), then its rules run over the next days on a simulated clock.

A target is checked in a folder of its own holding exactly its merged files (hard
links to the repository's files, copies across filesystems), and each problem is
named by the repository file it comes from. Targets with the same files are checked
once; a problem shared by many targets is said once, naming them all.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.loader import Playlist, VideoLength, load_playlist_set
from signage.playlist.simulate import Moment, Scenario, simulate
from signage.yamlread import Problem

MAX_WARNINGS = 5  # fallback moments quoted per target


@dataclass
class Verdict:
    """What the checks found: problems refuse the release, warnings do not."""

    problems: dict[str, list[str]] = field(default_factory=dict)  # problem text -> the targets it concerns
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{_targets(names)}: {text}" for text, names in self.problems.items()]


def _targets(names: list[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"target{'s' if len(names) > 1 else ''} {shown}"


def materialise(files: dict[str, Path], folder: Path) -> None:
    """`folder` holds exactly these files (hard links, or copies where links cannot be made)."""
    for relative, source in files.items():
        destination = folder / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, destination)
        except OSError:  # another filesystem, or links not allowed here
            shutil.copyfile(source, destination)


def check_targets(repo: Path, targets: dict[str, dict[str, Path]], *, video_length: VideoLength,
                  max_image_pixels: int = DEFAULT_MAX_PIXELS, simulate_days: float = 7.0,
                  start: dt.datetime | None = None) -> Verdict:
    verdict = Verdict()
    groups: dict[frozenset, list[str]] = {}
    for name, files in targets.items():
        groups.setdefault(frozenset(files.items()), []).append(name)
    for key, names in groups.items():
        files = dict(key)
        with tempfile.TemporaryDirectory(prefix="signage-check-") as folder:
            root = Path(folder)
            materialise(files, root)
            result = load_playlist_set([root], root, max_image_pixels, video_length=video_length)
            for problem in result.problems:
                text = str(_in_repo(problem, files, repo))
                verdict.problems.setdefault(text, []).extend(names)
            if result.playlist is not None and simulate_days > 0:
                verdict.warnings += _rehearse(result.playlist, names, simulate_days, start)
    return verdict


def _in_repo(problem: Problem, files: dict[str, Path], repo: Path) -> Problem:
    """The problem, with the repository file it comes from (sites/hq/lobby.yaml, not lobby.yaml)."""
    source = files.get(problem.file)
    if source is None:
        return problem
    try:
        shown = str(source.relative_to(repo))
    except ValueError:
        shown = str(source)
    return Problem(shown, problem.line, problem.column, problem.path, problem.message)


def _rehearse(playlist: Playlist, names: list[str], days: float, start: dt.datetime | None) -> list[str]:
    """The next `days` with nobody in front of the screen: when would the fallback card show?"""
    begin = (start or dt.datetime.now().astimezone()).replace(microsecond=0)
    scenario = Scenario(start=begin, duration=days * 86400, timeline=[Moment(at=0)])
    switches, _ = simulate(playlist, scenario)
    empty = [switch for switch in switches if switch.creative == "(fallback)"]
    return [f"{_targets(names)}: nothing to play at {switch.local:%a %Y-%m-%d %H:%M} (simulated): the fallback "
            "card would show" for switch in empty[:MAX_WARNINGS]]
