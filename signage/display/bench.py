"""`signage bench display`: frame rates at 1920x1080 as ratios of the target, and an
optional soak that cycles large images and videos to watch memory.

Uses the current SDL driver: under X (or Xvfb) real window blits; with no display,
SDL's dummy driver (which skips presenting, so it flatters the numbers).
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from signage.config import DisplayConfig, NoticeConfig
from signage.display.content import Content

SIZE = (1920, 1080)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1048576


def _image(path: Path, size: tuple[int, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    gradient = np.linspace(0, 255, w, dtype=np.float32)[np.newaxis, :, np.newaxis]
    image = (gradient * rng.uniform(0.3, 1, 3) + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path


def _video(path: Path, seconds: float, fps: int = 30, size=(1920, 1080)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(int(seconds * fps)):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:] = (i * 3 % 255, 80, 160)
        cv2.circle(frame, (int(size[0] * (i % fps) / fps), size[1] // 2), 120, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def _run_for(renderer, seconds: float, on_frame=None) -> tuple[int, float]:
    start_frames, started = renderer.stats.frames, time.monotonic()
    while time.monotonic() - started < seconds:
        events = renderer.frame()
        if on_frame:
            on_frame(events)
    return renderer.stats.frames - start_frames, time.monotonic() - started


def run(seconds: float = 5.0, soak: float = 0.0) -> str:
    from signage.display.renderer import Renderer

    config = DisplayConfig(fullscreen=False, size=SIZE, fps=60, notice=NoticeConfig(enabled=True))
    lines = []
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as folder:
        folder = Path(folder)
        a, b = _image(folder / "a.jpg", SIZE, 1), _image(folder / "b.jpg", SIZE, 2)
        video = _video(folder / "clip.avi", seconds + 1)
        renderer = Renderer(config)
        renderer.open()
        driver = __import__("pygame").display.get_driver()
        lines.append(f"display: {SIZE[0]}x{SIZE[1]} on SDL driver {driver}, target 60 fps, notice on")
        lines.append(f"{'case':12}{'fps':>8}{'ratio':>8}{'ms/frame':>10}{'late':>6}  notes")
        try:
            for case in ("image", "card", "crossfade", "video"):
                renderer.stats.late = renderer.stats.dropped = renderer.stats.video_frames = 0
                notes = ""
                if case == "image":
                    renderer.show(Content(id="a", type="image", path=a))
                    _run_for(renderer, 0.5)
                    frames, spent = _run_for(renderer, seconds)
                elif case == "card":
                    renderer.show(Content(id="c", type="card", text="Fresh coffee\nuntil 11:00", background="#6f4518"))
                    _run_for(renderer, 0.3)
                    frames, spent = _run_for(renderer, seconds)
                elif case == "crossfade":
                    renderer.show(Content(id="b", type="image", path=b))
                    _run_for(renderer, 0.5)
                    frames = 0
                    spent = 0.0
                    for i in range(int(seconds)):  # one-second fades back and forth
                        target = a if i % 2 == 0 else b
                        renderer.show(Content(id=target.stem, type="image", path=target, transition="fade",
                                              fade_seconds=1.0))
                        f, s = _run_for(renderer, 1.0)
                        frames, spent = frames + f, spent + s
                else:
                    renderer.show(Content(id="clip", type="video", path=video, loop=False))
                    renderer.frame()
                    renderer.stats.video_frames = 0
                    frames, spent = _run_for(renderer, seconds)
                    expected = 30 * spent
                    shown, skipped = renderer.stats.video_frames, renderer.stats.dropped
                    notes = (f"30 fps video: {shown} frames shown of {expected:.0f} due, "
                             f"{skipped} skipped ({100 * skipped / max(shown + skipped, 1):.1f}% dropped)")
                fps = frames / spent
                lines.append(f"{case:12}{fps:8.1f}{fps / 60:8.3f}{renderer.stats.render_ms:10.2f}"
                             f"{renderer.stats.late:6d}  {notes}")
            if soak:
                lines.append(_soak(renderer, folder, soak))
        finally:
            renderer.close()
    lines.append("targets: ratio >= 0.98 for image and crossfade; video at 30 fps with < 1% dropped")
    return "\n".join(lines)


def _soak(renderer, folder: Path, seconds: float) -> str:
    """Cycle 50 4K images and 3 videos; RSS after warm-up vs at the end."""
    images = [_image(folder / f"4k-{i:02d}.jpg", (3840, 2160), i) for i in range(50)]
    videos = [_video(folder / f"v{i}.avi", 4, size=(1280, 720)) for i in range(3)]
    items = [Content(id=p.stem, type="image", path=p, transition="fade", fade_seconds=0.3) for p in images]
    items += [Content(id=p.stem, type="video", path=p, loop=False) for p in videos]
    started, warm, index = time.monotonic(), None, 0
    while time.monotonic() - started < seconds:
        renderer.show(items[index % len(items)])
        _run_for(renderer, 0.6)
        index += 1
        if warm is None and index >= len(items) * 2:
            warm = _rss_mb()
    end = _rss_mb()
    warm = warm if warm is not None else end
    return (f"soak: {seconds:.0f} s, {index} creatives shown (50 4K images, 3 videos), RSS after warm-up "
            f"{warm:.0f} MB, at the end {end:.0f} MB, growth {end - warm:+.1f} MB (target < 20 MB)")
