"""The lock on the Pi's userland: every locked package installed at its locked version (the
x86 venv's), every one importable, SDL with kmsdrm, and apt's packages still visible behind the
venv's own, as on a Pi where python3-picamera2 comes from apt (--system-site-packages)."""

from __future__ import annotations

import subprocess
from importlib import metadata

from signage.modelfiles import PROJECT_ROOT
from tests.arm64.pi import on_x86

# What the kiosk imports: each must be among the locked packages and import on arm64.
KIOSK = {"numpy": "numpy", "opencv-contrib-python": "cv2", "ai-edge-litert": "ai_edge_litert",
         "mediapipe": "mediapipe", "pygame-ce": "pygame", "paho-mqtt": "paho", "pydantic": "pydantic",
         "pyyaml": "yaml"}
# Modules whose import loads a system library the kiosk does not install, and why it need not.
NEEDS_SYSTEM_LIBRARY = {
    # MediaPipe's dependency for its audio tasks (we use none): loads PortAudio (libportaudio2).
    "sounddevice": "OSError: PortAudio library not found",
}

# Locked for aarch64 only (pyproject.toml says why): simplejpeg shadows apt's, which
# picamera2 imports and which is built for Bookworm's numpy 1.24.
ARM64_ONLY = ("simplejpeg",)


def test_every_locked_package_is_installed_at_the_locked_version_the_x86_venv_has(pi):
    found = pi.json("installed", str(pi.venv / "requirements.txt"))
    packages = found["packages"]
    assert set(KIOSK) <= set(packages)
    wrong = {name: p for name, p in packages.items() if p["installed"] != p["locked"] or not p["in_venv"]}
    assert not wrong, "installed (first on sys.path) must be the lock's, from the venv"
    assert found["unlocked"] == [], "the venv holds nothing the lock does not list"
    arm64_only = set(ARM64_ONLY)
    # A package the lock holds at two versions, split by Python version (Bookworm's 3.11.2 against
    # this machine's newer 3.11), is checked against the lock alone, above.
    same = set(packages) - arm64_only - forked_by_python(found["python"])
    x86 = {name: metadata.version(name) for name in same}
    assert {name: p["installed"] for name, p in packages.items() if name in same} == x86
    assert arm64_only <= set(packages), "the lock's aarch64-only packages are installed on arm64"


def forked_by_python(pi_python: str) -> set[str]:
    """The packages uv.lock resolves to one version for the Pi's Python and another for this
    machine's (it forks a resolution where a release needs a newer Python)."""
    import platform
    import tomllib

    from packaging.markers import Marker

    def chosen(package: dict, python: str, machine: str) -> bool:
        where = {"python_full_version": python, "platform_machine": machine, "sys_platform": "linux"}
        return any(Marker(marker).evaluate(where) for marker in package.get("resolution-markers", ()))

    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    forked = set()
    for package in lock["package"]:
        if "resolution-markers" not in package:
            continue  # one version for every Python and platform
        on_pi = chosen(package, pi_python, "aarch64")
        here = chosen(package, platform.python_version(), "x86_64")
        if on_pi != here:
            forked.add(package["name"])
    return forked


def test_every_locked_package_imports(pi):
    errors = pi.json("imports")
    assert set(KIOSK.values()) <= set(errors)
    failed = {module: error for module, error in errors.items() if error is not None}
    assert failed == NEEDS_SYSTEM_LIBRARY


def test_pygame_ce_has_kmsdrm_compiled_in(pi):
    """Raspberry Pi OS Lite has no X server: the kiosk draws with SDL's kmsdrm."""
    sdl = pi.json("drivers")
    assert "kmsdrm" in sdl["drivers"], sdl


def test_version_names_the_same_lock_as_x86(pi):
    arm64 = pi.run("-m", "signage.cli", "--version")
    x86 = on_x86("-m", "signage.cli", "--version")
    assert arm64.returncode == 0, arm64.stderr
    assert arm64.stdout == x86.stdout and "(lock unknown)" not in arm64.stdout


def test_the_locks_numpy_comes_before_debians_and_apts_modules_stay_visible(pi):
    """A venv made with --system-site-packages, with Debian's python3-numpy installed by apt
    (python3-picamera2 depends on it): the venv's numpy (the lock's) is the one imported, and a
    module only apt installed (pkg_resources here, picamera2 on a Pi) is still found."""
    seen = pi.json("numpy")
    assert seen["debian"] is not None, "Debian's numpy is installed, so there is something to shadow"
    assert seen["version"] == metadata.version("numpy") != seen["debian"]
    assert seen["file"].startswith(seen["venv_site"])
    order = seen["sys_path"]
    assert all(order.index(seen["venv_site"]) < order.index(path) for path in seen["system_paths"])
    assert any(seen["apt_module"].startswith(path) for path in seen["system_paths"])


def test_the_venv_installed_what_the_lock_exports_now(pi):
    """The cached venv is keyed by uv.lock: what it installed is the checkout's lock, every
    package, extra and group, with the sha256 of each file."""
    now = subprocess.run([str(PROJECT_ROOT / ".uv" / "bin" / "uv"), "export", "--frozen", "--quiet", "--all-extras",
                          "--all-groups", "--no-emit-project", "--format", "requirements-txt"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT, check=True).stdout
    installed = (pi.venv / "requirements.txt").read_text()
    assert body(installed) == body(now) and "--hash=sha256:" in now


def body(requirements: str) -> list[str]:
    """The requirement lines, without uv's header comment (it names the output file)."""
    return [line for line in requirements.splitlines() if not line.startswith("#")]
