"""`signage bench soak`: the demo kiosk for hours, and what its memory is made of.

The demo (its playlists copied to a folder the bench edits, the sample video as the
camera, analysis at 15 fps, no broker: telemetry spools) runs on the GL path: SDL's
`offscreen` video driver with its OpenGL renderer, unless SDL_VIDEODRIVER names
another. During the run the bench reloads the playlist (1,000 times in 2 h, in
proportion for other lengths), every other time after an edit that changes a card's
text (a new creative, a new texture), and makes the display go away (100 times in 2 h):
the observer it hands the renderer raises the display's error from its present hook,
the path a dead X server or DRM device takes, and the renderer tears everything down
and reopens.

Every sample: RSS; Python's own allocations (tracemalloc: objects and numpy arrays);
the rest of RSS, native (SDL, GL, FFmpeg, LiteRT/XNNPACK, the libraries' code); glibc's
heap in use and the free memory it keeps (fragmentation); the picture cache's decoded
bytes and the decoded video frames the renderer reports through its hooks; threads and
open files. Each is reported as its level at the end of warm-up and as growth after it
(min / median / max over the samples, and the end's level); a level is a median over a
window, because a display loss makes RSS swing. Then the allocation sites whose Python
memory grew most, and what malloc_trim gives back at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from signage import modelfiles
from signage.cli.bench_kiosk import config_for
from signage.cli.measure import Spread, malloc_now, open_files, rss_mb, rss_parts_mb, threads, verdict
from signage.config import SourceConfig
from signage.display.heap import give_back
from signage.display.events import RenderObserver
from signage.kiosk.app import Kiosk, Observer
from signage.modelfiles import PROJECT_ROOT

TARGET_MB = 20.0  # RSS growth after warm-up
RELOADS_PER_2H, LOSSES_PER_2H = 1000, 100
MB = 1024 * 1024


def scaled(per_2h: int, seconds: float) -> int:
    """A count given for two hours, in proportion for a run of `seconds`."""
    return max(1, round(per_2h * seconds / 7200))


@dataclass
class _Screen(RenderObserver):
    """What the bench sees of the screen, and the display losses it injects."""

    opens: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    holding: tuple[int, int, int] = (0, 0, 0)  # picture cache bytes, its entries, video frame bytes
    lose_now: threading.Event = field(default_factory=threading.Event)
    losses: int = 0

    def presented(self, t, spent_s, late):
        if self.lose_now.is_set():
            self.lose_now.clear()
            self.losses += 1
            from signage.display.renderer import DisplayError

            raise DisplayError("injected by bench soak")

    def opened(self, video_driver, backend, render_driver, gl):
        self.opens.append((video_driver, backend, render_driver, gl))

    def held(self, pictures_bytes, pictures, frames_bytes):
        self.holding = (pictures_bytes, pictures, frames_bytes)


class _Watch(Observer):
    def __init__(self, screen: _Screen):
        self.screen = screen


@dataclass(frozen=True)
class _Sample:
    t: float
    rss: float
    anonymous: float  # resident: heaps, stacks, buffers
    mapped: float  # resident: the libraries' code, mapped from their files
    python: float  # tracemalloc: what Python's allocators hand out
    tracing: float  # tracemalloc's own bookkeeping
    malloc_in_use: float | None
    malloc_free: float | None
    pictures: float
    frames: float
    threads: int
    files: int

    @property
    def native(self) -> float:
        return self.rss - self.python - self.tracing


def _sample(t: float, screen: _Screen) -> _Sample:
    heap = malloc_now()
    pictures, _, frames = screen.holding
    return _Sample(t, rss_mb(), *rss_parts_mb(), tracemalloc.get_traced_memory()[0] / MB,
                   tracemalloc.get_tracemalloc_memory() / MB,
                   heap.in_use / MB if heap else None, heap.free_held / MB if heap else None,
                   pictures / MB, frames / MB, threads(), open_files())


def _edit(playlist: Path, number: int) -> None:
    """Change the edited card's text, written whole and renamed into place (as an
    operator's tool should)."""
    text = playlist.read_text()
    marker = 'text: "Open every day\\n08:00 - 23:00'  # the demo's opening-hours card
    start = text.index(marker)
    end = text.index('"', start + len(marker))
    edited = text[:start] + f'{marker} (edit {number})' + text[end:]
    temporary = playlist.with_suffix(".tmp")
    temporary.write_text(edited)
    os.replace(temporary, playlist)


class _Accepted(logging.Handler):
    """Counts the playlists the watcher accepted, from its log (no hook in the kiosk)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record):
        if record.getMessage().startswith("playlist reloaded"):
            self.count += 1


def soak(seconds: float, reloads: int | None = None, losses: int | None = None, every: float | None = None) -> str:
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")  # the GL path, with or without a window system
    reloads = scaled(RELOADS_PER_2H, seconds) if reloads is None else reloads
    losses = scaled(LOSSES_PER_2H, seconds) if losses is None else losses
    every = every or min(30.0, max(2.0, seconds / 60))
    warm_up = min(600.0, seconds / 4)
    sample = modelfiles.require(modelfiles.samples()["WolfgangLanger_Pexels.mp4"], modelfiles.samples_dir())
    screen = _Screen()
    accepted = _Accepted()
    watcher_log = logging.getLogger("signage.playlist.watcher")
    level = watcher_log.level
    watcher_log.setLevel(logging.INFO)
    watcher_log.addHandler(accepted)
    tracemalloc.start(1)
    samples: list[_Sample] = []
    marks: dict[str, object] = {}
    deaths: list[str] = []
    with tempfile.TemporaryDirectory(prefix="signage-soak-") as folder:
        playlists = Path(folder) / "playlists"
        shutil.copytree(PROJECT_ROOT / "playlists", playlists)
        playlist = playlists / "default.yaml"
        source = SourceConfig(kind="video", path=str(sample), loop=True)
        kiosk = Kiosk(config_for(Path(folder), source, playlists), duration=seconds, observer=_Watch(screen))
        stop = threading.Event()
        done = {"reloads": 0, "edits": 0}

        def drive():
            start = time.monotonic()
            next_sample, next_reload, next_loss = every, seconds / (reloads + 1), seconds / (losses + 1)
            while not stop.wait(0.25):
                t = time.monotonic() - start
                if kiosk.watcher is None:
                    continue
                if t >= next_reload and done["reloads"] < reloads:
                    done["reloads"] += 1
                    next_reload += seconds / (reloads + 1)
                    if done["reloads"] % 2:
                        done["edits"] += 1
                        _edit(playlist, done["edits"])
                    else:
                        kiosk.watcher.request_reload()  # as SIGHUP and MQTT RELOAD ask
                if t >= next_loss and screen.losses < losses:
                    next_loss += seconds / (losses + 1)
                    screen.lose_now.set()
                if t >= next_sample and t < seconds - 1.0:  # not while the kiosk stops
                    next_sample += every
                    samples.append(_sample(t, screen))
                    print(_progress(samples[-1]), file=sys.stderr, flush=True)
                    if "warm" not in marks and t >= warm_up:
                        marks["warm"] = tracemalloc.take_snapshot()
                    elif "warm" in marks and "end" not in marks and t >= seconds - 2 * every:
                        marks["end"] = tracemalloc.take_snapshot()
                    stuck = None if kiosk.stop_requested.is_set() else kiosk.vision.stuck(60.0)
                    if stuck and "dead" in stuck and not deaths:
                        deaths.append(f"{stuck} at {t:.0f} s")

        driver = threading.Thread(target=drive, name="bench-soak", daemon=True)
        started = time.monotonic()
        driver.start()
        try:
            kiosk.run()
        finally:
            stop.set()
            driver.join(timeout=5)
            watcher_log.removeHandler(accepted)
            watcher_log.setLevel(level)
        spent = time.monotonic() - started
        faults = kiosk.status()["faults"] if kiosk.player else 0
    tracemalloc.stop()
    before_trim = rss_mb()
    trimmed = give_back()
    given_back = before_trim - rss_mb()
    return _report(spent, warm_up, samples, screen, done, accepted.count, deaths, faults,
                   (marks.get("warm"), marks.get("end")), given_back if trimmed else None)


def _progress(s: _Sample) -> str:
    heap = f"malloc in use {s.malloc_in_use:.0f} free {s.malloc_free:.0f}" if s.malloc_in_use is not None else ""
    return (f"soak {s.t:6.0f} s: RSS {s.rss:.1f} MB (anonymous {s.anonymous:.1f}, files {s.mapped:.1f}), "
            f"python {s.python:.1f}, native {s.native:.1f}, {heap}, "
            f"pictures {s.pictures:.1f}, frames {s.frames:.1f}, threads {s.threads}, files {s.files}")


def _report(spent, warm_up, samples, screen, done, accepted, deaths, faults, snapshots, given_back) -> str:
    lines = [f"soak: {spent:.0f} s of the demo (analysis capped at 15 fps, video creatives playing), "
             f"{done['reloads']} playlist reloads ({done['edits']} after an edit, {accepted} accepted), "
             f"{screen.losses} display losses ({max(0, len(screen.opens) - 1)} reopened)"]
    if screen.opens:
        video, backend, render, gl = screen.opens[0]
        path = f"GL {gl}" if gl else "not the GL path: set SDL_VIDEODRIVER=offscreen, or leave it unset"
        lines.append(f"  display: SDL video driver {video}, {backend} ({render}), {path}")
    window = warm_up / 2  # a level is the median over a window: display losses make RSS swing
    before = [s for s in samples if warm_up - window <= s.t < warm_up]
    after = [s for s in samples if s.t >= warm_up]
    if not before or not after:
        return "\n".join(lines + ["  too short: no sample in the warm-up's second half or after it"])
    last = [s for s in after if s.t >= after[-1].t - window]
    lines.append(f"  warm-up {warm_up:.0f} s; a level is the median over {window:.0f} s: the warm-up's second half, "
                 f"and the end; {len(after)} samples after warm-up")
    lines.append(f"  {'':38}{'warm-up level':>14}{'growth after warm-up: min / median / max':>44}{'at the end':>12}")

    def level(value, group):
        return statistics.median(value(s) for s in group)

    def row(name: str, value, unit: str = "MB", fmt: str = ".1f"):
        if value(after[0]) is None:
            return
        warm = level(value, before)
        growth = Spread.of([value(s) - warm for s in after])
        lines.append(f"  {name:38}{format(warm, fmt):>10} {unit:3}{growth.format(fmt):>44}"
                     f"{format(level(value, last) - warm, '+' + fmt):>12}")

    row("RSS", lambda s: s.rss)
    row("  anonymous (heaps, stacks, buffers)", lambda s: s.anonymous)
    row("  mapped files (libraries' code)", lambda s: s.mapped)
    row("  Python (tracemalloc)", lambda s: s.python)
    row("  tracemalloc's own bookkeeping", lambda s: s.tracing)
    row("  native (RSS - Python - bookkeeping)", lambda s: s.native)
    row("glibc heap in use", lambda s: s.malloc_in_use)
    row("glibc heap free (trimmed or not)", lambda s: s.malloc_free)
    row("picture cache (decoded)", lambda s: s.pictures)
    row("video frames decoded ahead", lambda s: s.frames)
    row("threads", lambda s: s.threads, "", ".0f")
    row("open files", lambda s: s.files, "", ".0f")
    growth = level(lambda s: s.rss, last) - level(lambda s: s.rss, before)
    lines.append(f"  RSS growth after warm-up (the end's level - the warm-up's): {growth:+.1f} MB "
                 f"(target < {TARGET_MB:.0f} MB): {verdict(growth < TARGET_MB)}")
    if given_back is not None:
        lines.append(f"  at the end, after the kiosk stopped, malloc_trim gave back {given_back:.1f} MB "
                     "(free memory glibc held)")
    warm_snapshot, end_snapshot = snapshots
    if warm_snapshot is not None and end_snapshot is not None:
        lines.append("  Python allocation sites that grew most after warm-up (tracemalloc):")
        for stat in end_snapshot.compare_to(warm_snapshot, "lineno")[:5]:
            frame = stat.traceback[0]
            lines.append(f"    {stat.size_diff / 1024:+9.1f} KiB  {_short(frame.filename)}:{frame.lineno}")
    lines.append(f"  thread deaths: {', '.join(deaths) or 'none'}; faults survived: {faults}")
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("/signage/", "/site-packages/", "/lib/python"):
        if marker in filename:
            return filename[filename.index(marker) + 1:]
    return filename
