"""`signage bench vision`: every backend x model on the same real frames, as ratios.

Timing claims live here, never in tests: this machine is noisy, so every figure is
set against another measured in the same run, on the same frames.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from signage import models
from signage.config import VisionConfig
from signage.vision.pipeline import Pipeline

SIZE = (640, 480)


def fit_640x480(image: np.ndarray) -> np.ndarray:
    """Letterbox an image into 640x480, as a camera at that resolution would deliver it."""
    height, width = image.shape[:2]
    scale = min(SIZE[0] / width, SIZE[1] / height)
    resized = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    top, left = (SIZE[1] - resized.shape[0]) // 2, (SIZE[0] - resized.shape[1]) // 2
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas


def frame_sets(samples: Path, video_frames: int) -> dict[str, list[np.ndarray]]:
    """Two sets of real 640x480 frames: five faces (one still) and one person (video)."""
    multi = cv2.imread(str(samples / "multi_face.jpg"))
    capture = cv2.VideoCapture(str(samples / "WolfgangLanger_Pexels.mp4"))
    video = []
    while len(video) < video_frames:
        ok, image = capture.read()
        if not ok:
            break
        video.append(fit_640x480(image))
    capture.release()
    return {"5 faces": [fit_640x480(multi)], "1 person": video}


@dataclass
class Result:
    backend: str
    model: str
    frames: str
    faces: float
    pipeline_ms: float
    raw_ms: float
    detect_ms: float

    @property
    def fps(self) -> float:
        return 1000 / self.pipeline_ms


BLOCK = 10  # frames per block: pipeline and raw invokes alternate in blocks, so drift
            # cancels out without one thrashing the other's caches frame by frame


def measure(pipeline: Pipeline, frames: list[np.ndarray], rounds: int) -> tuple[float, float, float, float]:
    """Mean faces, median pipeline ms, median raw invoke ms (detector + one expression
    invoke per face) and median detector-stage ms, in alternating blocks."""
    for frame in frames[:3]:
        pipeline.process(frame, 0.0)  # warm-up: allocations, caches
    totals, raws, detects, faces = [], [], [], []
    t = 0.0
    crop = np.zeros((1, 64, 64, 1), np.float32)
    for start in range(0, rounds, BLOCK):
        block = [frames[i % len(frames)] for i in range(start, min(start + BLOCK, rounds))]
        counts = []
        for frame in block:
            t += 1 / 30
            snapshot = pipeline.process(frame, t)
            totals.append(snapshot.times.total)
            detects.append(snapshot.times.detect)
            counts.append(snapshot.face_count)
        for frame, count in zip(block, counts):
            raw = pipeline.detector.raw_invoke_ms(frame)
            if pipeline.classifier is not None:
                raw += sum(pipeline.classifier.model.invoke_ms(crop) for _ in range(count))
            raws.append(raw)
        faces += counts
    return float(np.mean(faces)), statistics.median(totals), statistics.median(raws), statistics.median(detects)


def run(rounds: int, threads: int = 2) -> list[Result]:
    for asset in models.samples().values():
        models.require(asset, models.samples_dir())
    sets = frame_sets(models.samples_dir(), video_frames=max(rounds, 30))
    results = []
    for model in ("short", "full", "full_sparse"):
        for backend in ("litert", "mediapipe"):
            pipeline = Pipeline.from_config(VisionConfig(backend=backend, model=model, threads=threads))
            try:
                for name, frames in sets.items():
                    results.append(Result(backend, model, name, *measure(pipeline, frames, rounds)))
            finally:
                pipeline.close()
    return results


def report(results: list[Result]) -> str:
    lines = [
        f"vision: {SIZE[0]}x{SIZE[1]} real frames, expressions on, median ms per frame",
        f"{'model':12}{'frames':10}{'backend':11}{'faces':>6}{'pipeline':>10}{'fps':>7}"
        f"{'raw invoke':>12}{'pipe/raw':>10}{'detect':>9}{'litert/mp fps':>15}{'detect ratio':>14}",
    ]
    by_key = {(r.model, r.frames, r.backend): r for r in results}
    for r in results:
        ratio = detect_ratio = ""
        other = by_key.get((r.model, r.frames, "mediapipe"))
        if r.backend == "litert" and other:
            ratio = f"{r.fps / other.fps:.2f}x"
            detect_ratio = f"{other.detect_ms / r.detect_ms:.2f}x"
        lines.append(
            f"{r.model:12}{r.frames:10}{r.backend:11}{r.faces:6.1f}{r.pipeline_ms:10.2f}{r.fps:7.0f}"
            f"{r.raw_ms:12.2f}{r.pipeline_ms / r.raw_ms:10.2f}{r.detect_ms:9.2f}{ratio:>15}{detect_ratio:>14}")
    lines.append("targets (litert): pipe/raw <= 1.5 with 5 faces; litert/mp fps >= 2 on the full model")
    return "\n".join(lines)


# ----- int8 vs float ----------------------------------------------------------------------

INT8_TARGET = 1.5  # the int8 detector should invoke at least this much faster than float
INT8_PAIRS = (("full", "full_int8"), ("short", "short_int8"))


@dataclass
class Int8Result:
    model: str
    detector_ratios: list[float]  # float / int8 median invoke ms, one per repeat
    pipeline_ratios: list[float]  # float / int8 median pipeline ms, one per repeat
    float_ms: float  # median over all repeats
    int8_ms: float
    partitions: tuple[int, int]  # delegate partitions (float, int8): 1 = XNNPACK runs the whole graph
    faces: tuple[float, float]  # mean faces per frame (float, int8)
    ious: list[float]  # best int8 IoU of every float face


def _cpu_int8_note() -> str:
    """Whether this CPU has int8 dot-product instructions, which is where int8 gains."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return "CPU flags unknown"
    if {"avx512_vnni", "avx_vnni", "asimddp"} & set(flags):
        return "this CPU has int8 dot-product instructions (VNNI / ARM dotprod)"
    return ("this CPU has no int8 dot-product instructions (no VNNI / ARM dotprod): XNNPACK's int8 kernels "
            "have no edge over its float ones here; a Pi 5 (Cortex-A76, dotprod) is where int8 pays")


def _agreement(floats: Pipeline, ints: Pipeline, frames: list[np.ndarray]) -> tuple[float, float, list[float]]:
    from signage.vision.detection import iou

    counts_f, counts_i, ious = [], [], []
    for frame in frames:
        expected, found = floats.detector.detect(frame), ints.detector.detect(frame)
        counts_f.append(len(expected))
        counts_i.append(len(found))
        ious += [max((iou(face.box, other.box) for other in found), default=0.0) for face in expected]
    return float(np.mean(counts_f)), float(np.mean(counts_i)), ious


def run_int8(rounds: int, repeats: int = 5, threads: int = 2) -> list[Int8Result]:
    """Float and int8 on the same real frames, alternating in blocks within each repeat."""
    for asset in models.samples().values():
        models.require(asset, models.samples_dir())
    sets = frame_sets(models.samples_dir(), video_frames=max(rounds, 30))
    frames = sets["5 faces"] + sets["1 person"]
    results = []
    for float_model, int8_model in INT8_PAIRS:
        pipelines = [Pipeline.from_config(VisionConfig(model=m, threads=threads)) for m in (float_model, int8_model)]
        try:
            detector_ratios, pipeline_ratios, all_ms = [], [], ([], [])
            for _ in range(repeats):
                medians = []
                for which, pipeline in enumerate(pipelines):
                    _, pipe_ms, _, _ = measure(pipeline, frames, rounds)
                    raw = [pipeline.detector.raw_invoke_ms(frames[i % len(frames)]) for i in range(rounds)]
                    all_ms[which].extend(raw)
                    medians.append((statistics.median(raw), pipe_ms))
                (float_raw, float_pipe), (int8_raw, int8_pipe) = medians
                detector_ratios.append(float_raw / int8_raw)
                pipeline_ratios.append(float_pipe / int8_pipe)
            faces_f, faces_i, ious = _agreement(*pipelines, frames)
            results.append(Int8Result(
                int8_model, detector_ratios, pipeline_ratios, statistics.median(all_ms[0]),
                statistics.median(all_ms[1]),
                tuple(p.detector.model.delegated_partitions() for p in pipelines), (faces_f, faces_i), ious))
        finally:
            for pipeline in pipelines:
                pipeline.close()
    return results


def int8_report(results: list[Int8Result]) -> str:
    lines = [
        "int8 vs float: same real frames, ratios = float time / int8 time (> 1: int8 faster), "
        "min/median/max over repeats",
        f"{'model':12}{'float ms':>9}{'int8 ms':>9}{'detector ratio':>24}{'pipeline ratio':>24}"
        f"{'XNNPACK parts':>15}{'faces f/i':>11}{'IoU min/median':>16}  verdict",
    ]
    for r in results:
        def spread(values):
            return f"{min(values):.2f}/{statistics.median(values):.2f}/{max(values):.2f}"
        met = statistics.median(r.detector_ratios) >= INT8_TARGET
        agree = min(r.ious, default=0.0) >= 0.8 and r.faces[0] == r.faces[1]
        verdict = ("faster" if met else f"NOT {INT8_TARGET}x faster") + (
            ", boxes agree" if agree else ", boxes differ (IoU < 0.8 or face counts differ)")
        lines.append(
            f"{r.model:12}{r.float_ms:9.2f}{r.int8_ms:9.2f}{spread(r.detector_ratios):>24}"
            f"{spread(r.pipeline_ratios):>24}{'%d/%d' % r.partitions:>15}"
            f"{'%.1f/%.1f' % r.faces:>11}{'%.2f/%.2f' % (min(r.ious, default=0), statistics.median(r.ious or [0])):>16}"
            f"  {verdict}")
    lines.append(f"target: int8 detector >= {INT8_TARGET}x faster than float; {_cpu_int8_note()}")
    return "\n".join(lines)
