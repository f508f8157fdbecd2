"""Publishing: a content repository checked, then written as a signed release into a
releases folder that any static web server (or `signage fleet`) serves as it is:

    latest                      the newest version, as text (a hint: the manifest is what counts)
    <version>/manifest.json     canonical bytes (manifest.py)
    <version>/manifest.sig      its signature (signing.py)
    objects/<sha256>            every file once, by content: a creative in ten targets is stored once
                                (or copied to another static host the manifest names: objects_url)

Old releases are kept. Rollback is `republish`: an earlier release's targets under a
new version (kiosks refuse any version that is not newer). One publisher at a time:
the folder is locked while a version is chosen and written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError

from signage.content import signing
from signage.content.checks import Verdict, check_targets
from signage.content.layers import layered
from signage.content.manifest import Manifest, ManifestError, Target, parse
from signage.content.signing import PrivateKey
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.playlist.loader import VideoLength

OBJECTS, LATEST, MANIFEST, SIGNATURE = "objects", "latest", "manifest.json", "manifest.sig"
CHUNK = 1 << 20


class PublishRefused(Exception):
    """The release was not written; `lines` says every reason (target, file, line, column)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Published:
    version: int
    folder: Path
    targets: dict[str, int]  # target -> bytes
    new_bytes: int  # stored now (the rest was already there)
    warnings: list[str]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # served to anyone who may read the folder
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(releases: Path) -> Iterator[None]:
    releases.mkdir(parents=True, exist_ok=True)
    with open(releases / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def versions(releases: Path) -> list[int]:
    if not releases.is_dir():
        return []
    return sorted(int(entry.name) for entry in releases.iterdir()
                  if entry.name.isdigit() and (entry / MANIFEST).is_file())


def read_release(releases: Path, version: int, key: PrivateKey) -> Manifest:
    """A release of this folder, its signature checked against the publisher's own key."""
    folder = releases / str(version)
    try:
        data, sig = (folder / MANIFEST).read_bytes(), (folder / SIGNATURE).read_bytes()
    except OSError as exc:
        raise PublishRefused([f"{folder}: no release {version} here ({exc.strerror}); releases: "
                              f"{', '.join(map(str, versions(releases))) or 'none'}"]) from None
    try:
        signing.check(key.public_key(), data, sig)
        return parse(data)
    except (signing.SignatureRefused, ManifestError) as exc:
        raise PublishRefused([f"{folder}: {exc}"]) from None


def publish(repo: Path, releases: Path, key: PrivateKey, *, video_length: VideoLength, expires_days: float = 30,
            max_image_pixels: int = DEFAULT_MAX_PIXELS, simulate_days: float = 7, objects_url: str | None = None,
            now: float | None = None, after: int = 0) -> Published:
    """Check every target of `repo` and write the release; PublishRefused if any target fails.
    `after`: a version the new one must be above (screens refuse any version not above
    their own, so a releases folder lost or restored from an old backup starts above the
    newest version screens have)."""
    found = layered(repo)
    lines = [str(problem) for problem in found.problems]
    verdict = Verdict()
    if not lines:
        verdict = check_targets(repo, found.targets, video_length=video_length, max_image_pixels=max_image_pixels,
                                simulate_days=simulate_days)
        lines = verdict.lines()
    if lines:
        raise PublishRefused(lines)
    hashes: dict[Path, tuple[str, int]] = {}
    targets = {}
    for name, files in found.targets.items():
        entries = {}
        for relative, source in files.items():
            if source not in hashes:
                hashes[source] = (sha256_of(source), source.stat().st_size)
            digest, size = hashes[source]
            entries[relative] = {"sha256": digest, "size": size}
        try:
            Target.model_validate({"files": entries})
        except ValidationError as exc:
            raise PublishRefused([f"target {name}: {exc.errors()[0]['msg']}"]) from None
        targets[name] = {"files": entries}
    with locked(releases):
        new_bytes = _store_objects(releases, {digest: source for source, (digest, _) in hashes.items()})
        published = _write(releases, key, targets, expires_days, now, objects_url, after)
    return Published(published.version, releases / str(published.version),
                     {name: target.total_bytes for name, target in published.targets.items()}, new_bytes,
                     verdict.warnings)


def republish(releases: Path, version: int, key: PrivateKey, *, expires_days: float = 30,
              objects_url: str | None = None, now: float | None = None, after: int = 0) -> Published:
    """Rollback: release `version`'s targets again, as the newest version (above `after`)."""
    with locked(releases):
        earlier = read_release(releases, version, key)
        missing = sorted({entry.sha256 for target in earlier.targets.values() for entry in target.files.values()
                          if not (releases / OBJECTS / entry.sha256).is_file()})
        if missing:
            raise PublishRefused([f"release {version} needs {len(missing)} file(s) no longer in "
                                  f"{releases / OBJECTS}, e.g. {missing[0]}"])
        targets = {name: target.model_dump(mode="json") for name, target in earlier.targets.items()}
        published = _write(releases, key, targets, expires_days, now, objects_url or earlier.objects_url, after)
    return Published(published.version, releases / str(published.version),
                     {name: target.total_bytes for name, target in published.targets.items()}, 0, [])


def _store_objects(releases: Path, sources: dict[str, Path]) -> int:
    objects = releases / OBJECTS
    objects.mkdir(parents=True, exist_ok=True)
    written = 0
    for digest, source in sources.items():
        destination = objects / digest
        if destination.is_file() and destination.stat().st_size == source.stat().st_size:
            continue
        fd, temp = tempfile.mkstemp(dir=objects, prefix=f".{digest}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
                copied = hashlib.sha256()
                while chunk := handle.read(CHUNK):
                    copied.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if copied.hexdigest() != digest:
                raise PublishRefused([f"{source}: changed while it was being published; publish again"])
            os.chmod(temp, 0o644)
            os.replace(temp, destination)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        written += source.stat().st_size
    return written


def _write(releases: Path, key: PrivateKey, targets: dict, expires_days: float, now: float | None,
           objects_url: str | None = None, after: int = 0) -> Manifest:
    issued = int(now if now is not None else time.time())
    version = max(max(versions(releases), default=0), after) + 1
    manifest = Manifest(format=1, version=version, issued=issued, expires=issued + int(expires_days * 86400),
                        key_id=signing.key_id(key.public_key()), objects_url=objects_url,
                        targets=targets)  # plain dicts, validated into Targets
    data = manifest.canonical()
    staging = Path(tempfile.mkdtemp(dir=releases, prefix=f".{version}."))
    try:
        write_atomically(staging / MANIFEST, data)
        write_atomically(staging / SIGNATURE, signing.sign(key, data))
        os.chmod(staging, 0o755)
        os.rename(staging, releases / str(version))  # the whole release appears at once
    except BaseException:
        for leftover in staging.glob("*"):
            leftover.unlink()
        staging.rmdir()
        raise
    write_atomically(releases / LATEST, f"{version}\n".encode())
    return manifest


def describe(published: Published) -> list[str]:
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [f"published version {published.version} ({when}) in {published.folder}, "
             f"{published.new_bytes / 1e6:.1f} MB new"]
    lines += [f"  {name}: {size / 1e6:.1f} MB" for name, size in sorted(published.targets.items())]
    return lines + [f"warning: {text}" for text in published.warnings]
