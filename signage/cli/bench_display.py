"""`signage bench display`: what the screen costs, at 1920x1080, per kind of creative.

Per case (a still image, a card, a crossfade, a 30 fps 1080p H.264 video) and per
round: presents per second, CPU of the whole process in % of one core, late
presents and dropped video frames, watched through a RenderObserver the bench
injects. In the same round, the CPU of decoding the same video alone (OpenCV, the
decoder the renderer uses, at the video's rate, nothing drawn) gives the video's
target as a ratio. Rounds repeat the
cases; the spread (min / median / max) and a verdict per target are printed.

Uses the current SDL driver: run it under X or Xvfb at 1920x1080 (`xvfb-run -s
"-screen 0 1920x1080x24" signage bench display`). With no display at all SDL's dummy
driver is used, which presents nowhere and flatters the figures.
The video is encoded at bench time with FFmpeg's libx264 (Debian's `ffmpeg`),
the images drawn at bench time (signage/display/synthetic.py).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from signage.cli.measure import Spread, process_cpu_seconds, rss_mb, verdict
from signage.config import DisplayConfig, NoticeConfig
from signage.display.content import Content
from signage.display.events import RenderObserver
from signage.display.readback import has_video_frame
from signage.display.synthetic import encode_h264, gradient_jpeg

if TYPE_CHECKING:
    from signage.display.video import Decode

SIZE = (1920, 1080)
FPS = 60
VIDEO_FPS = 30
FADE_S = 1.0
STILL_CPU_TARGET = 3.0  # % of one core, image and card
VIDEO_RATIO_TARGET = 1.3  # process CPU while playing / CPU of decoding alone
DROPPED_TARGET = 1.0  # % of video frames
FADE_TARGET = 0.95  # of the display rate, during a fade


@dataclass
class _Watch(RenderObserver):
    """What the bench sees of the screen."""
    times: list[float] = field(default_factory=list)
    late: int = 0
    shown: int = 0
    dropped: int = 0

    def presented(self, t, spent_s, late):
        self.times.append(t)
        self.late += late

    def video_frames(self, shown, dropped):
        self.shown += shown
        self.dropped += dropped

    def reset(self):
        self.times.clear()
        self.late = self.shown = self.dropped = 0


@dataclass
class _Figures:
    presents_per_s: float
    cpu_percent: float
    late: int
    dropped_percent: float = 0.0


def _run_for(renderer, seconds: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        renderer.frame()


def _settle(renderer, content_id: str, video: bool = False, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        renderer.frame()
        if renderer.stats.showing == content_id and (not video or has_video_frame(renderer)):
            _run_for(renderer, 0.3)
            return
    raise RuntimeError(f"{content_id} never came on screen: {renderer.stats.errors}")


def _measure(renderer, watch: _Watch, seconds: float) -> _Figures:
    watch.reset()
    cpu, started = process_cpu_seconds(), time.monotonic()
    _run_for(renderer, seconds)
    spent = time.monotonic() - started
    cpu = process_cpu_seconds() - cpu
    frames = watch.shown + watch.dropped
    return _Figures(len(watch.times) / spent, 100 * cpu / spent, watch.late,
                    100 * watch.dropped / frames if frames else 0.0)


def _crossfades(renderer, watch: _Watch, a: Path, b: Path, seconds: float) -> _Figures:
    """Back-to-back one-second fades between two images (both cached): presents per
    second counted within each fade only."""
    watch.reset()
    cpu, started, fading, during = process_cpu_seconds(), time.monotonic(), 0.0, 0
    index = 0
    while time.monotonic() - started < seconds:
        target = a if index % 2 == 0 else b
        index += 1
        renderer.show(Content(id=target.stem, type="image", path=target, transition="fade", fade_seconds=FADE_S))
        begun = time.monotonic()
        count = len(watch.times)
        _run_for(renderer, FADE_S + 0.1)
        during += sum(1 for t in watch.times[count:] if t <= begun + FADE_S)
        fading += FADE_S
    spent = time.monotonic() - started
    return _Figures(during / fading, 100 * (process_cpu_seconds() - cpu) / spent, watch.late)


def _decode_alone(path: Path, decode: Decode, seconds: float) -> float:
    """CPU % of one core to decode the video alone at its own rate, as the player
    decodes it: frame after frame at VIDEO_FPS for `seconds`, each converted once into
    the screen's pixel format (what the player's decoding thread does), nothing drawn."""
    from signage.display.video import Canvases, open_capture, to_canvas

    capture, _ = open_capture(path, decode)
    canvases = Canvases(2)
    cpu, started, decoded = process_cpu_seconds(), time.monotonic(), 0
    while time.monotonic() - started < seconds:
        ok, image = capture.read()
        if not ok:
            capture.release()
            capture, _ = open_capture(path, decode)
            continue
        to_canvas(image, canvases)
        decoded += 1
        time.sleep(max(0.0, started + decoded / VIDEO_FPS - time.monotonic()))
    spent = time.monotonic() - started
    cpu = process_cpu_seconds() - cpu
    capture.release()
    return 100 * cpu / spent


def run(seconds: float = 5.0, rounds: int = 3, soak: float = 0.0) -> str:
    from signage.display.renderer import Renderer

    config = DisplayConfig(fullscreen=False, size=SIZE, fps=FPS, notice=NoticeConfig(enabled=True))
    watch = _Watch()
    figures: dict[str, list[_Figures]] = {case: [] for case in ("image", "card", "crossfade", "video")}
    decode: list[float] = []
    lines = []
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as name:
        folder = Path(name)
        a, b = gradient_jpeg(folder / "a.jpg", SIZE, 1), gradient_jpeg(folder / "b.jpg", SIZE, 2)
        video = encode_h264(folder / "clip.mp4", seconds + 2, SIZE, VIDEO_FPS)
        renderer = Renderer(config, observer=watch)
        renderer.open()
        screen = renderer.screen
        assert screen is not None  # open() made it
        backend = screen.backend
        lines.append(f"display: {SIZE[0]}x{SIZE[1]} on SDL video driver {screen.driver}, "
                     f"{backend.kind} ({backend.driver}), display rate {FPS}, notice on; "
                     f"{rounds} rounds of {seconds:.0f} s per case")
        lines.append(f"video: {VIDEO_FPS} fps {SIZE[0]}x{SIZE[1]} H.264 (libx264, yuv420p), "
                     f"video_decode {config.video_decode}")
        try:
            for _ in range(rounds):
                renderer.show(Content(id="a", type="image", path=a))
                _settle(renderer, "a")
                figures["image"].append(_measure(renderer, watch, seconds))
                renderer.show(Content(id="c", type="card", text="Fresh coffee\nuntil 11:00", background="#6f4518"))
                _settle(renderer, "c")
                figures["card"].append(_measure(renderer, watch, seconds))
                renderer.show(Content(id="b", type="image", path=b))
                _settle(renderer, "b")
                figures["crossfade"].append(_crossfades(renderer, watch, a, b, seconds))
                renderer.show(Content(id="clip", type="video", path=video, loop=True))
                _settle(renderer, "clip", video=True)
                played = _measure(renderer, watch, seconds)
                figures["video"].append(played)
                decoder = renderer.current.video.decoder if renderer.current and renderer.current.video else "?"
                renderer.show(Content(id="c", type="card", text="Fresh coffee\nuntil 11:00", background="#6f4518"))
                _settle(renderer, "c")
                decode.append(_decode_alone(video, config.video_decode, seconds))
            lines.append(f"video decoder in use: {decoder}")
            lines += _report(figures, decode)
            if soak:
                lines.append(_soak(renderer, folder, soak))
        finally:
            renderer.close()
    return "\n".join(lines)


def _report(figures: dict[str, list[_Figures]], decode: list[float]) -> list[str]:
    lines = [f"{'case':11}{'presents/s':>22}{'CPU % of one core':>24}{'late':>10}{'dropped %':>20}",
             "           (min / median / max for each figure)"]
    for case, rows in figures.items():
        presents = Spread.of([r.presents_per_s for r in rows]).format(".1f")
        cpu = Spread.of([r.cpu_percent for r in rows]).format(".1f")
        late = "/".join(str(r.late) for r in rows)
        dropped = Spread.of([r.dropped_percent for r in rows]).format(".1f") if case == "video" else "-"
        lines.append(f"{case:11}{presents:>22}{cpu:>24}{late:>10}{dropped:>20}")
    alone = Spread.of(decode)
    lines.append(f"{'decode only':11}{'-':>22}{alone.format('.1f'):>24}")
    ratios = Spread.of([r.cpu_percent / d for r, d in zip(figures["video"], decode)])
    video_dropped = Spread.of([r.dropped_percent for r in figures["video"]])
    fade = Spread.of([r.presents_per_s / FPS for r in figures["crossfade"]])
    image_cpu, card_cpu = (Spread.of([r.cpu_percent for r in figures[c]]) for c in ("image", "card"))
    lines += [
        "targets (verdict on the median of the rounds):",
        f"  still image CPU <= {STILL_CPU_TARGET:.0f} % of one core: {image_cpu.format('.1f')} % -> "
        f"{verdict(image_cpu.median <= STILL_CPU_TARGET)}",
        f"  card CPU <= {STILL_CPU_TARGET:.0f} % of one core: {card_cpu.format('.1f')} % -> "
        f"{verdict(card_cpu.median <= STILL_CPU_TARGET)}",
        f"  video CPU / decode-alone CPU <= {VIDEO_RATIO_TARGET}: {ratios.format()} -> "
        f"{verdict(ratios.median <= VIDEO_RATIO_TARGET)}",
        f"  video frames dropped < {DROPPED_TARGET:.0f} %: {video_dropped.format('.2f')} % -> "
        f"{verdict(video_dropped.median < DROPPED_TARGET)}",
        f"  crossfade presents during the fade >= {FADE_TARGET} x {FPS}/s: {fade.format('.3f')} -> "
        f"{verdict(fade.median >= FADE_TARGET)}",
    ]
    return lines


def _soak(renderer, folder: Path, seconds: float) -> str:
    """Cycle 50 4K images and 3 videos; RSS after warm-up vs at the end."""
    images = [gradient_jpeg(folder / f"4k-{i:02d}.jpg", (3840, 2160), i) for i in range(50)]
    videos = [encode_h264(folder / f"v{i}.mp4", 4, size=(1280, 720)) for i in range(3)]
    items = [Content(id=p.stem, type="image", path=p, transition="fade", fade_seconds=0.3) for p in images]
    items += [Content(id=p.stem, type="video", path=p, loop=False) for p in videos]
    started, warm, index = time.monotonic(), None, 0
    while time.monotonic() - started < seconds:
        renderer.show(items[index % len(items)])
        _run_for(renderer, 0.6)
        index += 1
        if warm is None and index >= len(items) * 2:
            warm = rss_mb()
    end = rss_mb()
    warm = warm if warm is not None else end
    return (f"soak: {seconds:.0f} s, {index} creatives shown (50 4K images, 3 videos), RSS after warm-up "
            f"{warm:.0f} MB, at the end {end:.0f} MB, growth {end - warm:+.1f} MB (target < 20 MB): "
            f"{verdict(end - warm < 20)}")
