"""Frame in, AudienceSnapshot out. The frame is not kept: nothing here stores it.

The model files are given (the caller resolves and verifies them with the model
manifest, `signage.modelfiles.vision_files`): vision reads no manifest and no config tree."""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from signage.audience import AudienceSnapshot, Face, StageTimes, TrackSummary
from signage.errors import ModelError
from signage.vision import attention
from signage.vision.detection import Detection, FaceDetector
from signage.vision.expression import MAX_FACES, ExpressionClassifier
from signage.vision.runtime import EdgeTpu
from signage.vision.settings import VisionSettings
from signage.vision.tracker import Observation, Tracker, TrackerConfig

logger = logging.getLogger(__name__)

# Backends are imported only when chosen: mediapipe is a large import.
BACKENDS = {
    "litert": "signage.vision.blazeface:BlazeFaceDetector",
    "mediapipe": "signage.vision.mediapipe:MediaPipeDetector",
}


def make_detector(config: VisionSettings, path: Path,
                  load_delegate: Callable[..., object] | None = None) -> FaceDetector:
    """The backend `config.backend` names on the detector model file `path`."""
    module_name, class_name = BACKENDS[config.backend].split(":")
    detector_class = getattr(importlib.import_module(module_name), class_name)
    if config.backend != "litert":
        return detector_class(path, min_score=config.min_score)
    if config.delegate == "edgetpu":
        return _edgetpu_detector(detector_class, config, path, load_delegate)
    return detector_class(path, min_score=config.min_score, num_threads=config.threads)


def compiled_path(path: Path) -> Path:
    """Where edgetpu_compiler writes its output: <name>_edgetpu.tflite beside the input."""
    return path.with_name(f"{path.stem}_edgetpu{path.suffix}")


def _edgetpu_detector(detector_class, config: VisionSettings, path: Path, load_delegate) -> FaceDetector:
    """The compiled model on the Edge TPU when there is one and the device opens;
    otherwise the CPU model, with one message saying why (also in `detector.edgetpu`)."""
    compiled = compiled_path(path)
    if not config.model.endswith("_int8"):
        reason = (f"vision.model: {config.model} is a float model and the Edge TPU runs only full-integer models"
                  f" compiled for it; set vision.model: {config.model.split('_')[0]}_int8 and compile it"
                  " with edgetpu_compiler (docs/cameras.md: Coral Edge TPU)")
    elif not compiled.is_file():
        reason = (f"no {compiled.name} in {compiled.parent}: compile {path.name} with edgetpu_compiler"
                  " (docs/cameras.md: Coral Edge TPU)")
    else:
        try:
            detector = detector_class(compiled, min_score=config.min_score, num_threads=config.threads,
                                      delegate="edgetpu", device=config.edgetpu_device, load_delegate=load_delegate)
        except ModelError as exc:
            reason = str(exc)
        else:
            if detector.edgetpu.in_use:
                logger.info("Edge TPU: %s", detector.edgetpu)
            else:
                logger.warning("vision.delegate: edgetpu, but the Edge TPU is %s", detector.edgetpu)
            return detector
    detector = detector_class(path, min_score=config.min_score, num_threads=config.threads)
    detector.edgetpu = EdgeTpu(requested=True, in_use=False, reason=f"{reason}; running {path.name} on the CPU")
    logger.warning("vision.delegate: edgetpu, but the Edge TPU is %s", detector.edgetpu)
    return detector


class _Closed:
    """The detector of a closed pipeline: processing after close says so."""

    name = "closed"

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        raise RuntimeError("the vision pipeline is closed")


class Pipeline:
    """Detect, classify, estimate attention and track, one frame at a time."""

    def __init__(self, detector: FaceDetector, classifier: ExpressionClassifier | None,
                 config: VisionSettings):
        self.detector = detector
        self.classifier = classifier
        self.config = config
        self.tracker = Tracker(TrackerConfig(
            confirm_hits=config.tracker.confirm_hits, max_gap_s=config.tracker.max_gap,
            start_score=config.start_score, keep_score=config.min_score))

    @classmethod
    def from_config(cls, config: VisionSettings, detector_file: Path,
                    expression_file: Path | None = None) -> Pipeline:
        """The pipeline `config` describes on the given model files; the expression
        model is needed (and loaded) only when `config.expressions` is on."""
        if config.expressions and expression_file is None:
            raise ModelError("vision.expressions is on, but no expression model file was given")
        detector = make_detector(config, detector_file)
        classifier = None
        if config.expressions and expression_file is not None:  # (checked above)
            # On the CPU even with a Coral: the expression model is not compiled for it, and one
            # Edge TPU holds one model's parameters at a time (two would swap on every frame).
            classifier = ExpressionClassifier(expression_file, num_threads=config.threads)
        return cls(detector, classifier, config)

    @property
    def edgetpu(self) -> EdgeTpu:
        """Whether the detector runs on the Edge TPU, and why not (for status)."""
        return getattr(self.detector, "edgetpu", EdgeTpu(requested=False))

    def process(self, frame_bgr: np.ndarray, t: float) -> AudienceSnapshot:
        """Analyse one frame taken at `t` (seconds on the source's clock)."""
        start = time.perf_counter()
        detections = self.detector.detect(frame_bgr)[:MAX_FACES]
        detected = time.perf_counter()
        probabilities: list[tuple[float, ...] | None] = [None] * len(detections)
        if self.classifier is not None and detections:
            probabilities = list(self.classifier.classify(frame_bgr, [d.box for d in detections]))
        classified = time.perf_counter()
        height, width = frame_bgr.shape[:2]
        faces, ended = self._faces(detections, probabilities, width, height, t)
        done = time.perf_counter()
        times = StageTimes(detect=(detected - start) * 1000, expression=(classified - detected) * 1000,
                           track=(done - classified) * 1000, total=(done - start) * 1000)
        return AudienceSnapshot(t=t, faces=faces, ended=ended, times=times)

    def end(self, t: float) -> AudienceSnapshot:
        """Snapshot that ends every track: the source ended or the camera was released."""
        return AudienceSnapshot(t=t, ended=tuple(self.tracker.flush()))

    def _faces(self, detections: list[Detection], probabilities: list, width: int, height: int,
               t: float) -> tuple[tuple[Face, ...], tuple[TrackSummary, ...]]:
        limits = self.config.attention
        observations, poses = [], []
        for detection, probs in zip(detections, probabilities):
            pose = attention.head_pose(detection)
            distance = attention.distance_m(pose, width, self.config.camera_hfov)
            x, y, w, h = detection.box
            observations.append(Observation(
                box=(x / width, y / height, w / width, h / height), score=detection.score,
                looking=attention.is_looking(pose, limits.max_yaw, limits.max_pitch),
                expressions=probs, zone=attention.zone(distance)))
            poses.append((pose, distance))
        tracked, ended = self.tracker.update(observations, t)
        faces = tuple(
            Face(box=obs.box, score=obs.score, expressions=obs.expressions, looking=obs.looking,
                 yaw=pose.yaw, pitch=pose.pitch, distance_m=distance, zone=obs.zone,
                 track=verdict.track, dwell_s=verdict.dwell_s, track_expression=verdict.expression,
                 looking_s=verdict.looking_s)
            for obs, (pose, distance), verdict in zip(observations, poses, tracked))
        return faces, tuple(ended)

    def close(self) -> None:
        """Release the models: a backend with its own close (MediaPipe's task) closes, and
        the LiteRT interpreters are dropped here, not whenever the GC runs (an Edge TPU is
        held by its interpreter until then). Closing twice is harmless; processing after is an error."""
        for model in (self.detector, self.classifier):
            close = getattr(model, "close", None)
            if close:
                close()
        self.detector, self.classifier = _Closed(), None
