"""`signage bench vision`: every backend x model on the same real frames, as ratios.

Timing claims live here, never in tests: this machine is noisy, so every figure is a
ratio of two things measured in the same repeat, on the same frames, in alternating
blocks; each ratio is repeated and reported as min / median / max with a verdict
against its target (on the median).

The model invokes are timed by a wrapper this bench puts around `Model.run` of the
pipelines it builds: nothing in the production objects exists for the bench.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from signage import modelfiles
from signage.cli.measure import Spread, verdict
from signage.config import VisionConfig
from signage.errors import ModelError
from signage.vision.blazeface import BlazeFaceDetector
from signage.vision.detection import iou
from signage.vision.expression import MAX_FACES
from signage.vision.pipeline import Pipeline
from signage.vision.runtime import Model

SIZE = (640, 480)
BACKENDS = ("litert", "mediapipe")
DETECTORS = ("short", "full", "full_sparse")
# Targets (docs/performance.md). Our pre/post-processing, tracking and attention may add
# at most half of the model invokes' own time with five faces in view; the litert backend
# (ours) must run the full-range model at least twice as fast as MediaPipe's own graph.
OVERHEAD_TARGET = 1.5  # litert pipeline ms / ms inside its model invokes, 5 faces
BACKEND_TARGET = 2.0  # mediapipe ms / litert ms, full model
INT8_TARGET = 1.5  # float detector invoke ms / int8 detector invoke ms
INT8_PAIRS = (("full", "full_int8"), ("short", "short_int8"))


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
    if multi is None:
        raise ModelError(f"{samples / 'multi_face.jpg'} cannot be read: run `signage models fetch --samples`")
    capture = cv2.VideoCapture(str(samples / "WolfgangLanger_Pexels.mp4"))
    video: list[np.ndarray] = []
    while len(video) < video_frames:
        ok, image = capture.read()
        if not ok:
            break
        video.append(fit_640x480(image))
    capture.release()
    return {"5 faces": [fit_640x480(multi)], "1 person": video}


class InvokeTimer:
    """Milliseconds spent inside the `Model.run` calls it wraps, since the last `take`."""

    def __init__(self) -> None:
        self._ms = 0.0

    def wrap(self, model: Model) -> None:
        run = model.run

        def timed(batch: np.ndarray) -> list[np.ndarray]:
            start = time.perf_counter()
            try:
                return run(batch)
            finally:
                self._ms += (time.perf_counter() - start) * 1000

        model.run = timed  # type: ignore[method-assign]  # this instance only: the bench's own pipeline

    def take(self) -> float:
        ms, self._ms = self._ms, 0.0
        return ms


@dataclass
class Timed:
    """A pipeline with its detector's and expression model's invokes timed (the
    detector's only on litert: MediaPipe runs its interpreter inside its own graph)."""

    pipeline: Pipeline
    detector: InvokeTimer | None = None
    expressions: InvokeTimer = field(default_factory=InvokeTimer)

    @classmethod
    def build(cls, settings: VisionConfig) -> Timed:
        pipeline = Pipeline.from_config(settings, *modelfiles.vision_files(settings.model, settings.expressions))
        timed = cls(pipeline)
        model = getattr(pipeline.detector, "model", None)
        if isinstance(model, Model):
            timed.detector = InvokeTimer()
            timed.detector.wrap(model)
        if pipeline.classifier is not None:
            for batch in range(1, MAX_FACES + 1):  # made now, not during the measurement
                timed.expressions.wrap(pipeline.classifier.model_for(batch))
        return timed


@dataclass
class Block:
    """Medians over one block of frames (ms), and the mean face count."""

    pipeline: float
    detect: float
    detector_invoke: float | None
    invokes: float | None  # detector + expression invokes inside the pipeline
    faces: float


class Clock:
    """The source clock the pipeline is told: 30 fps, continuous over every block."""

    def __init__(self) -> None:
        self.t = 0.0

    def tick(self) -> float:
        self.t += 1 / 30
        return self.t


def measure(timed: Timed, frames: list[np.ndarray], count: int, clock: Clock) -> Block:
    totals, detects, detector_invokes, invokes, faces = [], [], [], [], []
    for i in range(count):
        snapshot = timed.pipeline.process(frames[i % len(frames)], clock.tick())
        totals.append(snapshot.times.total)
        detects.append(snapshot.times.detect)
        faces.append(snapshot.face_count)
        expression_ms = timed.expressions.take()
        if timed.detector is not None:
            detector_ms = timed.detector.take()
            detector_invokes.append(detector_ms)
            invokes.append(detector_ms + expression_ms)
    return Block(statistics.median(totals), statistics.median(detects),
                 statistics.median(detector_invokes) if detector_invokes else None,
                 statistics.median(invokes) if invokes else None, float(np.mean(faces)))


def warm_up(timed: Timed, sets: dict[str, list[np.ndarray]], clock: Clock) -> None:
    """Allocations, caches and XNNPACK's first-invoke set-up, outside the figures."""
    for frames in sets.values():
        measure(timed, frames, 3, clock)


def load_frames(video_frames: int) -> dict[str, list[np.ndarray]]:
    for asset in modelfiles.samples().values():
        modelfiles.require(asset, modelfiles.samples_dir())
    return frame_sets(modelfiles.samples_dir(), video_frames)


# ----- backends x models -------------------------------------------------------------------

@dataclass
class Row:
    """One detector model on one frame set, both backends, over the repeats."""

    model: str
    frames: str
    litert: list[Block] = field(default_factory=list)
    mediapipe: list[Block] = field(default_factory=list)

    def overhead(self) -> list[float]:
        return [b.pipeline / b.invokes for b in self.litert if b.invokes]

    def whole(self) -> list[float]:
        return [m.pipeline / lt.pipeline for lt, m in zip(self.litert, self.mediapipe)]

    def detector_stage(self) -> list[float]:
        return [m.detect / lt.detect for lt, m in zip(self.litert, self.mediapipe)]


def run(frames: int, repeats: int, threads: int = 2) -> list[Row]:
    """For each model, both backends on both frame sets, backends alternating block by
    block within every repeat, so both see the same machine load."""
    sets = load_frames(max(frames, 30))
    rows = []
    for model in DETECTORS:
        pipelines = {b: Timed.build(VisionConfig(backend=b, model=model, threads=threads)) for b in BACKENDS}
        try:
            clocks = {b: Clock() for b in BACKENDS}
            for backend in BACKENDS:
                warm_up(pipelines[backend], sets, clocks[backend])
            model_rows = [Row(model, name) for name in sets]
            for _ in range(repeats):
                for row in model_rows:
                    for backend in BACKENDS:
                        block = measure(pipelines[backend], sets[row.frames], frames, clocks[backend])
                        getattr(row, backend).append(block)
            rows += model_rows
        finally:
            for timed in pipelines.values():
                timed.pipeline.close()
    return rows


def _faces(blocks: list[Block]) -> str:
    return f"{statistics.median(b.faces for b in blocks):.1f}"


def report(rows: list[Row], frames: int, repeats: int, threads: int = 2) -> str:
    lines = [
        f"vision: {SIZE[0]}x{SIZE[1]} real frames, {threads} threads, expressions on; {repeats} repeats of"
        f" {frames} frames per backend; ms are medians per frame, ratios min / median / max over repeats",
        f"{'model':12}{'frames':10}{'faces lt/mp':>12}{'litert ms':>22}{'invokes ms':>22}"
        f"{'pipeline/invokes':>21}{'mp/litert frame':>21}{'mp/litert detector':>21}",
    ]
    for row in rows:
        lines.append(
            f"{row.model:12}{row.frames:10}{_faces(row.litert) + '/' + _faces(row.mediapipe):>12}"
            f"{Spread.of([b.pipeline for b in row.litert]).format():>22}"
            f"{Spread.of([b.invokes for b in row.litert if b.invokes]).format():>22}"
            f"{Spread.of(row.overhead()).format():>21}{Spread.of(row.whole()).format():>21}"
            f"{Spread.of(row.detector_stage()).format():>21}")
    lines.append("targets (medians over repeats):")
    for row in rows:
        if row.frames == "5 faces":
            median = Spread.of(row.overhead()).median
            lines.append(f"  {row.model}, 5 faces: litert pipeline <= {OVERHEAD_TARGET}x its model invokes:"
                         f" {median:.2f}  {verdict(median <= OVERHEAD_TARGET)}")
    for row in rows:
        if row.model == "full":
            same = _faces(row.litert) == _faces(row.mediapipe)
            for label, ratios in (("whole frame", row.whole()), ("detector stage", row.detector_stage())):
                median = Spread.of(ratios).median
                lines.append(f"  full, {row.frames}: litert >= {BACKEND_TARGET}x as fast as mediapipe, {label}:"
                             f" {median:.2f}x  {verdict(median >= BACKEND_TARGET and same)}"
                             + ("" if same else " (the backends found different face counts)"))
    return "\n".join(lines)


# ----- int8 vs float ----------------------------------------------------------------------

def _invoke_ms(block: Block) -> float:
    """The detector's invoke time of a block: LiteRT detectors, which the int8 comparison runs, have one."""
    if block.detector_invoke is None:
        raise ModelError("the int8 comparison timed a detector without LiteRT invokes")
    return block.detector_invoke


def _partitions(pipeline: Pipeline) -> int:
    """The delegate partitions of the pipeline's LiteRT detector."""
    if not isinstance(pipeline.detector, BlazeFaceDetector):
        raise ModelError(f"the int8 comparison needs LiteRT detectors, not {pipeline.detector.name}")
    return pipeline.detector.model.delegated_partitions()


@dataclass
class Int8Result:
    model: str
    float_blocks: list[Block]
    int8_blocks: list[Block]
    partitions: tuple[int, int]  # delegate partitions (float, int8): 1 = XNNPACK runs the whole graph
    ious: list[float]  # best int8 IoU of every float face

    def detector_ratios(self) -> list[float]:
        return [_invoke_ms(f) / _invoke_ms(i) for f, i in zip(self.float_blocks, self.int8_blocks)]

    def pipeline_ratios(self) -> list[float]:
        return [f.pipeline / i.pipeline for f, i in zip(self.float_blocks, self.int8_blocks)]


def _agreement(floats: Pipeline, ints: Pipeline, frames: list[np.ndarray]) -> list[float]:
    ious = []
    for frame in frames:
        found = ints.detector.detect(frame)
        ious += [max((iou(face.box, other.box) for other in found), default=0.0)
                 for face in floats.detector.detect(frame)]
    return ious


def run_int8(frames: int, repeats: int, threads: int = 2) -> list[Int8Result]:
    """Float and int8 litert pipelines on the same real frames, alternating in blocks
    within each repeat."""
    sets = load_frames(max(frames, 30))
    mixed = sets["5 faces"] + sets["1 person"]
    results = []
    for float_model, int8_model in INT8_PAIRS:
        pair = [Timed.build(VisionConfig(model=m, threads=threads)) for m in (float_model, int8_model)]
        try:
            clocks = [Clock(), Clock()]
            for timed, clock in zip(pair, clocks):
                warm_up(timed, sets, clock)
            blocks: tuple[list[Block], list[Block]] = ([], [])
            for _ in range(repeats):
                for which, (timed, clock) in enumerate(zip(pair, clocks)):
                    blocks[which].append(measure(timed, mixed, frames, clock))
            floats, ints = (timed.pipeline for timed in pair)
            results.append(Int8Result(
                int8_model, *blocks,
                (_partitions(floats), _partitions(ints)),
                _agreement(floats, ints, mixed)))
        finally:
            for timed in pair:
                timed.pipeline.close()
    return results


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


def int8_report(results: list[Int8Result], frames: int, repeats: int) -> str:
    lines = [
        f"int8 vs float (litert): same real frames, {repeats} repeats of {frames} frames; ratio = float ms /"
        " int8 ms (> 1: int8 faster), min / median / max over repeats",
        f"{'model':12}{'float det ms':>13}{'int8 det ms':>13}{'detector ratio':>21}{'pipeline ratio':>21}"
        f"{'XNNPACK parts':>15}{'faces f/i':>11}{'IoU min/median':>16}  verdict",
    ]
    for r in results:
        detector = Spread.of(r.detector_ratios())
        faces = (statistics.median(b.faces for b in r.float_blocks), statistics.median(b.faces for b in r.int8_blocks))
        agree = min(r.ious, default=0.0) >= 0.8 and faces[0] == faces[1]
        partitions = f"{r.partitions[0]:d}/{r.partitions[1]:d}"
        face_counts = f"{faces[0]:.1f}/{faces[1]:.1f}"
        ious = f"{min(r.ious, default=0):.2f}/{statistics.median(r.ious or [0]):.2f}"
        lines.append(
            f"{r.model:12}{statistics.median(_invoke_ms(b) for b in r.float_blocks):13.2f}"
            f"{statistics.median(_invoke_ms(b) for b in r.int8_blocks):13.2f}"
            f"{detector.format():>21}{Spread.of(r.pipeline_ratios()).format():>21}{partitions:>15}"
            f"{face_counts:>11}{ious:>16}"
            f"  {verdict(detector.median >= INT8_TARGET)}"
            + (", boxes agree" if agree else ", boxes differ (IoU < 0.8 or face counts differ)"))
    lines.append(f"target: int8 detector invoke >= {INT8_TARGET}x faster than float (median); {_cpu_int8_note()}")
    return "\n".join(lines)


def main(frames: int, repeats: int) -> str:
    rows = run(frames, repeats)
    try:
        int8 = int8_report(run_int8(frames, repeats), frames, repeats)
    except ModelError as exc:  # the int8 models are made, not fetched
        int8 = f"int8 vs float: not measured: {exc}"
    return report(rows, frames, repeats) + "\n\n" + int8
