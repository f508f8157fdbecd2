"""What only the arm64 guest can see, printed as JSON for the host's tests (conftest.Pi.json):
    python -m tests.arm64.guest installed REQUIREMENTS | imports | drivers | numpy
Runs on the root's python3.11 with the venv's packages; the lock's markers are evaluated here,
on arm64, by the lock's own `packaging`."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

VENV_SITE = Path(sysconfig.get_paths()["purelib"])


def locked(requirements: Path) -> dict[str, str]:
    """name -> version of what `uv export` lists for this platform."""
    pins = {}
    for line in requirements.read_text().splitlines():
        if not line or line[0] in " #-":  # hashes, comments, options
            continue
        requirement = Requirement(line.rstrip(" \\"))
        if requirement.marker is None or requirement.marker.evaluate():
            (pin,) = requirement.specifier
            assert pin.operator == "==", line
            pins[canonicalize_name(requirement.name)] = pin.version
    return pins


def venv_distributions() -> dict[str, metadata.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(VENV_SITE)])}


def installed(requirements: str) -> dict:
    """Each locked package: its locked version, the version imported first on sys.path and where
    it lives; and what the venv holds beyond the lock."""
    pins = locked(Path(requirements))
    found = {}
    for name, version in pins.items():
        try:
            distribution = metadata.distribution(name)  # the first on sys.path, as an import finds it
        except metadata.PackageNotFoundError:
            found[name] = {"locked": version, "installed": None, "in_venv": False}
            continue
        location = Path(distribution.locate_file("")).resolve()
        found[name] = {"locked": version, "installed": distribution.version,
                       "in_venv": location == VENV_SITE.resolve()}
    return {"packages": found, "unlocked": sorted(set(venv_distributions()) - set(pins)),
            "python": platform.python_version()}


def imports() -> dict[str, str | None]:
    """Every top-level module of every distribution in the venv, imported in this process:
    module -> None, or the error it raised."""
    names = sorted({module for module, owners in metadata.packages_distributions().items()
                    if module.isidentifier() and set(map(canonicalize_name, owners)) & set(venv_distributions())})
    errors: dict[str, str | None] = {}
    for name in names:
        try:
            importlib.import_module(name)
            errors[name] = None
        except Exception as exc:  # reported to the host, which decides
            errors[name] = f"{type(exc).__name__}: {exc}"
    return errors


def drivers() -> dict:
    from signage.display.probe import compiled_video_drivers, sdl_version

    return {"sdl": sdl_version(), "drivers": compiled_video_drivers()}


def numpy() -> dict:
    """Which numpy an import finds in a venv made with --system-site-packages, as on a Pi where
    apt's python3-picamera2 brought Debian's; and whether apt's modules are still seen."""
    import numpy
    import pkg_resources  # apt's (python3-pkg-resources, with python3-numpy), not in the lock

    system = [p for p in sys.path if p.endswith("dist-packages")]
    debian = next(metadata.distributions(name="numpy", path=system), None)
    return {"version": numpy.__version__, "file": numpy.__file__, "venv_site": str(VENV_SITE),
            "debian": debian.version if debian else None, "system_paths": system,
            "sys_path": sys.path, "apt_module": pkg_resources.__file__}


def main(argv: list[str]) -> None:
    commands = {"installed": installed, "imports": imports, "drivers": drivers, "numpy": numpy}
    print(json.dumps(commands[argv[0]](*argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
