"""A release's manifest: what each target (the fleet, a site, a screen) plays, every
file by its path, sha256 and size, under a version that only grows, between an issue
and an expiry time, by the publisher's key.

The manifest travels as the canonical bytes `canonical()` makes (sorted keys, no
spaces, ASCII), and its signature covers exactly those bytes (signing.py). A kiosk
checks the signature before it parses anything, then the bounds below: a signed
manifest is trusted to come from the publisher, not to be sane.

Paths are relative, '/'-separated, and stay inside the content folder by form alone:
no empty part, no part starting with '.' (so no '..' and no hidden file), no
backslash, no control character, bounded in length and depth. A path may not be both
a file and a folder. Targets are named `fleet`, `site/<site>` and
`screen/<site>/<device>`; each holds its whole file set (the publisher merged the
layers), and a screen plays the most specific one that names it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from signage.contentconfig import content_url
from signage.patterns import NAME_PATTERN

FORMAT = 1
MAX_MANIFEST_BYTES = 8 << 20  # a manifest of the largest allowed size is about 4 MB
MAX_TARGETS = 1024
MAX_FILES = 2048  # per target
MAX_PATH_CHARS = 200
MAX_PART_CHARS = 100
MAX_DEPTH = 8
MAX_FILE_BYTES = 16 << 30  # one file (a long 4K video is a few GB)
MAX_VERSION = 2**53  # exact in every JSON reader
MAX_TIME = 1 << 40  # Unix seconds
MAX_URL_CHARS = 300

SHA256_PATTERN = r"^[0-9a-f]{64}$"
KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
_NAME = NAME_PATTERN.strip("^$")
TARGET_PATTERN = rf"^(fleet|site/{_NAME}|screen/{_NAME}/{_NAME})$"
_TARGET = re.compile(TARGET_PATTERN)


class ManifestError(ValueError):
    """A manifest that is not well formed or exceeds a bound; the message says which."""


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a file inside the content folder, or None when it can."""
    if not path or len(path) > MAX_PATH_CHARS:
        return f"{len(path)} characters; a path has 1 to {MAX_PATH_CHARS}"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in path):
        return "a control character"
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        return "absolute, or with a backslash; paths are relative and '/'-separated"
    parts = path.split("/")
    if len(parts) > MAX_DEPTH:
        return f"{len(parts)} levels deep; at most {MAX_DEPTH}"
    for part in parts:
        if not part:
            return "an empty part ('//' or a trailing '/')"
        if part.startswith("."):
            return f"the part {part[:20]!r} starts with '.' ('..' would leave the content folder; hidden files " \
                   "are not published)"
        if len(part) > MAX_PART_CHARS:
            return f"a part of {len(part)} characters; at most {MAX_PART_CHARS}"
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FileEntry(_Model):
    sha256: Annotated[str, StringConstraints(pattern=SHA256_PATTERN)] = Field(description="Lower-case hex.")
    size: int = Field(ge=0, le=MAX_FILE_BYTES, description="Bytes.")


class Target(_Model):
    files: dict[str, FileEntry] = Field(max_length=MAX_FILES, description="Relative path -> the file.")

    @field_validator("files")
    @classmethod
    def _paths_inside(cls, files: dict[str, FileEntry]) -> dict[str, FileEntry]:
        for path in files:
            problem = path_problem(path)
            if problem is not None:
                raise ValueError(f"path {path[:80]!r}: {problem}")
        folders = {"/".join(path.split("/")[:depth]) for path in files for depth in range(1, path.count("/") + 1)}
        both = sorted(folders & set(files))
        if both:
            raise ValueError(f"path {both[0][:80]!r} is both a file and a folder")
        return files

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files.values())


class Manifest(_Model):
    format: Literal[1] = Field(1, description="The manifest format (FORMAT).")
    version: int = Field(ge=1, le=MAX_VERSION, description="Grows with every release; a kiosk takes only a "
                         "higher one than it plays.")
    issued: int = Field(ge=0, le=MAX_TIME, description="Unix seconds when it was published.")
    expires: int = Field(ge=0, le=MAX_TIME, description="Unix seconds after which no screen should play it.")
    key_id: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)] = Field(
        description="The publisher's key: the first 16 hex digits of the sha256 of its raw public key.")
    targets: dict[str, Target] = Field(min_length=1, max_length=MAX_TARGETS)
    objects_url: str | None = Field(None, max_length=MAX_URL_CHARS, description=(
        "Where the files are fetched from (<objects_url>/<sha256>), when not from the releases folder's "
        "objects/: a CDN or any static host. Signed like the rest, and each file is checked by its sha256."))

    @field_validator("objects_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return content_url(value) if value is not None else None

    @field_validator("targets")
    @classmethod
    def _target_names(cls, targets: dict[str, Target]) -> dict[str, Target]:
        for name in targets:
            if not _TARGET.match(name):
                raise ValueError(f"target {name[:80]!r} is not fleet, site/<site> or screen/<site>/<device>")
        return targets

    def canonical(self) -> bytes:
        return canonical(self.model_dump(mode="json", exclude_none=True))  # an unset field is absent

    def target_for(self, site: str, device: str) -> str | None:
        """The most specific target that names this screen, or None."""
        for name in targets_of(site, device):
            if name in self.targets:
                return name
        return None


def targets_of(site: str, device: str) -> tuple[str, str, str]:
    """The targets that name a screen, the most specific first."""
    return f"screen/{site}/{device}", f"site/{site}", "fleet"


def canonical(document: dict) -> bytes:
    """The one byte form of a manifest: what is signed, served and checked."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def parse(data: bytes) -> Manifest:
    """A manifest from its bytes (already known to be signed), or ManifestError saying what is wrong."""
    from pydantic import ValidationError

    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{len(data)} bytes; a manifest has at most {MAX_MANIFEST_BYTES}")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise ManifestError(f"not JSON: {str(exc)[:100]}") from None
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])[:120]
        raise ManifestError(f"{where}: {first['msg']}"[:300]) from None
