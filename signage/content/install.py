"""The kiosk's content folder: verified files, releases built from them, and the one
link the playlist watcher reads.

    objects/<sha256>            every verified file once (a creative in ten playlists is one file)
    partial/<sha256>            downloads under way (resumed after a break)
    releases/<version>/         a release's files, hard links into objects/
    releases/<version>.json     its manifest, and .sig its signature (the active version's expiry)
    current -> releases/<v>     the playlists folder (config: playlists: <folder>/current)

A release is staged in a hidden folder, checked there with the device's own loader,
renamed into releases/, and only then `current` is replaced (a new link renamed over
the old one: atomic). Until the watcher accepts it the last good keeps playing; a
release that fails is removed and nothing else changed. Cleaning up keeps the release
`current` names, the one it named before, and any the last good playlist saved on disk
names: media the screen may still show are never deleted. An object no release links
any more (one link left) is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from signage.content.manifest import Target
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.loader import VideoLength, load_playlist_set, summary

logger = logging.getLogger(__name__)

OBJECTS, PARTIAL, RELEASES, CURRENT = "objects", "partial", "releases", "current"


class InstallRefused(Exception):
    """The release cannot be installed here; the message says why."""


@dataclass(frozen=True)
class Need:
    """What a release still needs: files to download, and their bytes."""

    files: dict[str, tuple[str, int]]  # sha256 -> (a path that names it, size)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.files.values())


class ContentFolder:
    def __init__(self, folder: Path, budget_bytes: int, last_good: Path | None = None):
        self.folder, self.budget, self.last_good = folder, budget_bytes, last_good
        self.objects, self.partial = folder / OBJECTS, folder / PARTIAL
        self.releases, self.current = folder / RELEASES, folder / CURRENT

    def prepare(self) -> None:
        for folder in (self.objects, self.partial, self.releases):
            folder.mkdir(parents=True, exist_ok=True)

    # ----- what is there -----------------------------------------------------------------------

    def active(self) -> int | None:
        """The version `current` names, or None."""
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        name = Path(target).name
        return int(name) if name.isdigit() else None

    def manifest_of(self, version: int) -> tuple[bytes, bytes] | None:
        try:
            return ((self.releases / f"{version}.json").read_bytes(),
                    (self.releases / f"{version}.sig").read_bytes())
        except OSError:
            return None

    def used_bytes(self) -> int:
        """Bytes of the verified files and the partial downloads (a release's links cost nothing more)."""
        total = 0
        for folder in (self.objects, self.partial):
            if folder.is_dir():
                total += sum(entry.stat().st_size for entry in folder.iterdir() if entry.is_file())
        return total

    def need(self, target: Target) -> Need:
        files: dict[str, tuple[str, int]] = {}
        for path, entry in target.files.items():
            if not (self.objects / entry.sha256).is_file():
                files.setdefault(entry.sha256, (path, entry.size))
        return Need(files)

    def partial_bytes(self, need: Need) -> int:
        """Bytes of `need` already here from a download that broke off (resumed, not fetched again)."""
        return sum(min((self.partial / digest).stat().st_size, size) for digest, (_, size) in need.files.items()
                   if (self.partial / digest).is_file())

    def make_room(self, target: Target, need: Need) -> None:
        """Clean up, then InstallRefused unless the budget and the disk both hold what is needed."""
        self.clean(keep_objects={entry.sha256 for entry in target.files.values()} | set(need.files))
        still = need.bytes - self.partial_bytes(need)
        used = self.used_bytes()
        if used + still > self.budget:
            raise InstallRefused(f"needs {still / 1e6:.1f} MB more, and {used / 1e6:.1f} MB of the "
                                 f"{self.budget / 1e6:.1f} MB budget (content.budget_mb) is held by the release "
                                 "playing and the last good one")
        free = shutil.disk_usage(self.folder).free
        if still > free:
            raise InstallRefused(f"needs {still / 1e6:.1f} MB more; the disk has {free / 1e6:.1f} MB free")

    # ----- installing ---------------------------------------------------------------------------

    def adopt_object(self, digest: str) -> None:
        """A verified download becomes an object."""
        os.replace(self.partial / digest, self.objects / digest)

    def stage(self, version: int, target: Target, *, video_length: VideoLength,
              max_image_pixels: int = DEFAULT_MAX_PIXELS) -> Path:
        """The release built from objects and checked by the device's loader; InstallRefused
        (and nothing left behind) when it does not pass."""
        staging = Path(tempfile.mkdtemp(dir=self.releases, prefix=f".{version}."))
        try:
            for path, entry in target.files.items():
                destination = staging / path
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self.objects / entry.sha256, destination)
                except OSError:  # a filesystem without hard links: a copy (it costs the space twice)
                    shutil.copyfile(self.objects / entry.sha256, destination)
            result = load_playlist_set([staging], staging, max_image_pixels, video_length=video_length)
            if result.playlist is None:
                raise InstallRefused(f"version {version} fails the checks on this screen:\n"
                                     f"{summary(result.problems, 5)}")
            for here, _, _ in os.walk(staging):  # its entries survive a power cut before `current` names it
                _fsync_folder(Path(here))
            final = self.releases / str(version)
            if final.exists():
                shutil.rmtree(final)  # an earlier attempt that never became current
            os.rename(staging, final)
            _fsync_folder(self.releases)
            return final
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def swap(self, version: int, manifest: bytes, signature: bytes) -> int | None:
        """`current` names this version from now on (atomic); the version it named before, if any."""
        for suffix, data in (("json", manifest), ("sig", signature)):
            _write(self.releases / f"{version}.{suffix}", data)
        before = self.active()
        link = self.folder / f".{CURRENT}.{version}.tmp"
        link.unlink(missing_ok=True)
        os.symlink(f"{RELEASES}/{version}", link)
        os.replace(link, self.current)
        _fsync_folder(self.folder)
        logger.info("content version %s is current (was %s)", version, before)
        return before

    # ----- cleaning up --------------------------------------------------------------------------

    def kept(self) -> set[int]:
        """Releases that may still be shown: current, the one before it, and the last good's."""
        kept = set()
        active = self.active()
        if active is not None:
            kept.add(active)
            earlier = [v for v in self._versions() if v < active]
            if earlier:
                kept.add(max(earlier))
        return kept | self._named_by_last_good()

    def _named_by_last_good(self) -> set[int]:
        """Versions whose files the last good playlist saved on disk plays (lastgood.py's JSON)."""
        if self.last_good is None:
            return set()
        try:
            document = json.loads(self.last_good.read_bytes())
            paths = [entry["path"] for entry in document["media"].values()] + list(document["files"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return set()  # none saved, or not readable: the boot will not use it either
        root, named = self.releases.resolve(), set()
        for path in paths:
            parts = Path(str(path)).parts
            if Path(*parts[:len(root.parts)]) == root and len(parts) > len(root.parts) \
                    and parts[len(root.parts)].isdigit():
                named.add(int(parts[len(root.parts)]))
        return named

    def clean(self, keep_objects: set[str] | frozenset[str] = frozenset()) -> None:
        """Releases no one may show, then objects no release links, then stale partial downloads."""
        kept = self.kept()
        for version in self._versions():
            if version not in kept:
                shutil.rmtree(self.releases / str(version), ignore_errors=True)
                for suffix in ("json", "sig"):
                    (self.releases / f"{version}.{suffix}").unlink(missing_ok=True)
        for leftover in self.releases.glob(".*"):  # a staging folder a power cut left
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        for entry in self.objects.iterdir() if self.objects.is_dir() else ():
            if entry.stat().st_nlink <= 1 and entry.name not in keep_objects:
                entry.unlink()
        for entry in self.partial.iterdir() if self.partial.is_dir() else ():
            if entry.name not in keep_objects:
                entry.unlink()

    def _versions(self) -> list[int]:
        if not self.releases.is_dir():
            return []
        return sorted(int(entry.name) for entry in self.releases.iterdir() if entry.name.isdigit() and entry.is_dir())


def _write(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
