"""`signage bench e2e` and `signage bench cpu`: the whole kiosk, measured (`soak`: bench_soak.py).

e2e: from the first frame with a confirmed face to the audience creative on screen,
on noface_face.mov, as latency against the rule's hold time (target <= hold + 0.5 s).
cpu: the demo at 1920x1080 with analysis at 15 fps,
CPU of the whole process in % of one core (target <= 30 %), repeated, per thread
group. They watch through an Observer they inject.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from signage import modelfiles
from signage.cli.measure import Spread, cpu_by_thread, process_cpu_seconds, verdict
from signage.config import Config, DisplayConfig, MqttConfig, NoticeConfig, PathsConfig, SourceConfig
from signage.kiosk.app import Kiosk, Observer
from signage.modelfiles import PROJECT_ROOT

# The e2e playlist: an idle loop, and a "look" creative once someone has looked for 1 s.
E2E_PLAYLIST = """\
creatives:
  - {id: idle-a, type: card, text: idle, background: "#333333", duration: 3}
  - {id: idle-b, type: card, text: idle, background: "#444444", duration: 3}
  - {id: look, type: card, text: look, background: "#00aa00", duration: 20}
default: [idle-a, idle-b]
rules:
  - id: someone-looking
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: look
"""


class _Timings(Observer):
    def __init__(self):
        self.first_confirmed: float | None = None
        self.shown: list[tuple[float, str | None]] = []

    def snapshot(self, snapshot) -> None:
        if self.first_confirmed is None and snapshot.confirmed:
            self.first_confirmed = time.monotonic()

    def showing(self, creative, t) -> None:
        self.shown.append((t, creative))


def config_for(folder: Path, source: SourceConfig, playlists: Path, max_fps: float = 15.0,
            size: tuple[int, int] = (1280, 720)) -> Config:
    base = Config()
    return base.model_copy(update={
        "source": source, "playlists": str(playlists),
        "vision": base.vision.model_copy(update={"max_fps": max_fps}),
        "display": DisplayConfig(fullscreen=False, size=size, notice=NoticeConfig()),
        "mqtt": MqttConfig(url="mqtt://127.0.0.1:9", interval=60),  # no broker: spooling
        "paths": PathsConfig(spool=str(folder / "spool.sqlite3")),
    })


def e2e(runs: int = 3) -> str:
    sample = modelfiles.require(modelfiles.samples()["noface_face.mov"], modelfiles.samples_dir())
    hold = 1.0
    latencies = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="signage-bench-") as folder:
            playlists = Path(folder) / "playlists"
            playlists.mkdir()
            (playlists / "e2e.yaml").write_text(E2E_PLAYLIST)
            source = SourceConfig(kind="video", path=str(sample), loop=False)
            timings = _Timings()
            Kiosk(config_for(Path(folder), source, playlists), observer=timings).run()
            shown = next((t for t, creative in timings.shown if creative == "look"), None)
            if timings.first_confirmed is None or shown is None:
                return "e2e: the face was never confirmed or the look creative never shown"
            latencies.append(shown - timings.first_confirmed)
    ratios = Spread.of([latency / (hold + 0.5) for latency in latencies])
    lines = [f"e2e on noface_face.mov, {runs} runs: first confirmed face -> audience creative on screen"]
    for latency in latencies:
        lines.append(f"  latency {latency:.2f} s  (hold {hold:.1f} s)")
    lines.append(f"ratio to hold + 0.5 s (min / median / max): {ratios.format()}; "
                 f"target max <= 1.00: {verdict(ratios.high <= 1.0)}")
    return "\n".join(lines)


CPU_TARGET = 30.0  # % of one core for the whole controller


# (monotonic time, CPU seconds of the process, CPU seconds by thread group)
CpuReading = tuple[float, float, dict[str, float]]


def _read_cpu_twice(stop: threading.Event, warm_up: float, seconds: float, measured: dict[str, CpuReading]) -> None:
    """Fill measured["start"] after the warm-up and measured["end"] just before the run ends,
    unless the kiosk stops first."""
    if stop.wait(warm_up):
        return
    measured["start"] = (time.monotonic(), process_cpu_seconds(), cpu_by_thread())
    if stop.wait(seconds - 0.5):
        return
    measured["end"] = (time.monotonic(), process_cpu_seconds(), cpu_by_thread())


def cpu(seconds: float = 30.0, rounds: int = 3) -> str:
    """The demo (its playlists, the sample video as the camera) at 1920x1080 with
    analysis at 15 fps: CPU of the process in % of one core, per round, and by thread
    group over all rounds."""
    sample = modelfiles.require(modelfiles.samples()["WolfgangLanger_Pexels.mp4"], modelfiles.samples_dir())
    totals: list[float] = []
    groups: dict[str, float] = {}
    spent_all = 0.0
    warm_up = 5.0  # models loaded, first creatives prepared: not what a kiosk costs for months
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="signage-cpu-") as folder:
            source = SourceConfig(kind="video", path=str(sample), loop=True)
            config = config_for(Path(folder), source, PROJECT_ROOT / "playlists", size=(1920, 1080))
            kiosk = Kiosk(config, duration=warm_up + seconds)
            measured: dict[str, CpuReading] = {}
            watcher = threading.Thread(target=_read_cpu_twice, args=(kiosk.stop_requested, warm_up, seconds, measured),
                                       daemon=True)
            watcher.start()
            kiosk.run()
            watcher.join(timeout=5)
            if "end" not in measured:
                return "cpu: the kiosk stopped before the measurement ended"
            (t0, c0, g0), (t1, c1, g1) = measured["start"], measured["end"]
            spent = t1 - t0
            spent_all += spent
            totals.append(100 * (c1 - c0) / spent)
            for name, value in g1.items():
                groups[name] = groups.get(name, 0.0) + value - g0.get(name, 0.0)
    spread = Spread.of(totals)
    return "\n".join([
        f"cpu: the demo at 1920x1080, analysis capped at 15 fps, {rounds} rounds of {seconds:.0f} s "
        f"(after {warm_up:.0f} s of warm-up each)",
        f"  whole process, % of one core (min / median / max): {spread.format('.1f')}; "
        f"target <= {CPU_TARGET:.0f} %: {verdict(spread.median <= CPU_TARGET)}",
        "  by thread group (% of one core, all rounds): " + ", ".join(
            f"{name} {100 * value / spent_all:.1f}%" for name, value in sorted(groups.items(), key=lambda kv: -kv[1])
            if value / spent_all >= 0.001)])
