"""A content repository (a folder, or a git working tree) and the targets it makes.

    fleet/                         every screen
    sites/<site>/                  the screens of one site: over fleet/
    screens/<site>/<device>/       one screen: over sites/<site>/ and fleet/

A more specific layer overrides a less specific one file by file, by relative path
(`sites/hq/lobby.yaml` replaces `fleet/lobby.yaml` for the screens of hq; a media file
the same). Each layer folder is a playlists folder: its *.yaml at the top, media in it
or below. Targets: `fleet` always, `site/<site>` for each sites/<site>/, and
`screen/<site>/<device>` for each screens/<site>/<device>/; a screen plays the most
specific target that names it. A 500-screen fleet stays readable: most screens need no
folder of their own, their site's is enough.

Names starting with '.' are not published (.git, editor files). Symbolic links and
anything else that is not a regular file or a folder are refused, naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from signage.content.manifest import MAX_FILES, MAX_TARGETS, path_problem
from signage.patterns import NAME_PATTERN
from signage.yamlread import Problem

_NAME = re.compile(NAME_PATTERN)
FLEET, SITES, SCREENS = "fleet", "sites", "screens"


@dataclass(frozen=True)
class Layered:
    """Each target's files: relative path -> the repository file that provides it."""

    targets: dict[str, dict[str, Path]]
    problems: list[Problem]


def layer_files(folder: Path, repo: Path, problems: list[Problem]) -> dict[str, Path]:
    """The publishable files under `folder`, by path relative to it."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for here, folders, files in os.walk(folder, followlinks=False):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        base = Path(here)
        for name in sorted(files) + [f for f in folders if (base / f).is_symlink()]:
            if name.startswith("."):
                continue
            path = base / name
            relative = path.relative_to(folder).as_posix()
            shown = str(path.relative_to(repo))
            if path.is_symlink():
                problems.append(Problem(shown, 1, 1, "", "a symbolic link; a release holds files only: copy the "
                                                         "file in"))
                continue
            if not path.is_file():
                problems.append(Problem(shown, 1, 1, "", "not a regular file (a device, a pipe or a socket)"))
                continue
            problem = path_problem(relative)
            if problem is not None:
                problems.append(Problem(shown, 1, 1, "", f"this path cannot be published: {problem}"))
                continue
            found[relative] = path
        folders[:] = [f for f in folders if not (base / f).is_symlink()]
    return found


def _named_folders(parent: Path, repo: Path, problems: list[Problem]) -> list[Path]:
    if not parent.is_dir():
        return []
    named = []
    for entry in sorted(parent.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir() or entry.is_symlink():
            problems.append(Problem(str(entry.relative_to(repo)), 1, 1, "", f"{parent.name}/ holds one folder per "
                                    f"{'site' if parent.name == SITES else 'site, then device'}; this is not one"))
        elif not _NAME.match(entry.name):
            problems.append(Problem(str(entry.relative_to(repo)), 1, 1, "", f"{entry.name!r} is not a site or "
                                    "device name (1 to 64 letters, digits, '-' and '_')"))
        else:
            named.append(entry)
    return named


def layered(repo: Path) -> Layered:
    """Every target of the repository with its merged files, and every problem found."""
    problems: list[Problem] = []
    if not repo.is_dir():
        return Layered({}, [Problem(str(repo), 1, 1, "", "not a folder; give the content repository "
                                                          "(fleet/, sites/<site>/, screens/<site>/<device>/)")])
    unknown = [entry.name for entry in repo.iterdir() if not entry.name.startswith(".")
               and entry.name not in (FLEET, SITES, SCREENS)]
    for name in sorted(unknown):
        problems.append(Problem(str(repo / name), 1, 1, "", "not part of a content repository, which holds "
                                                            "fleet/, sites/<site>/ and screens/<site>/<device>/"))
    fleet = layer_files(repo / FLEET, repo, problems)
    sites = {folder.name: layer_files(folder, repo, problems)
             for folder in _named_folders(repo / SITES, repo, problems)}
    targets: dict[str, dict[str, Path]] = {"fleet": fleet}
    for site, files in sites.items():
        targets[f"site/{site}"] = fleet | files
    for site_folder in _named_folders(repo / SCREENS, repo, problems):
        for device_folder in _named_folders(site_folder, repo, problems):
            own = layer_files(device_folder, repo, problems)
            targets[f"screen/{site_folder.name}/{device_folder.name}"] = fleet | sites.get(site_folder.name, {}) | own
    if len(targets) > MAX_TARGETS:
        problems.append(Problem(str(repo), 1, 1, "", f"{len(targets)} targets; a release holds at most "
                                                     f"{MAX_TARGETS} (use site folders rather than screen folders)"))
    for name, files in targets.items():
        if len(files) > MAX_FILES:
            problems.append(Problem(str(repo), 1, 1, "", f"target {name}: {len(files)} files; at most {MAX_FILES}"))
    return Layered(targets, problems)
