"""BlazeFace pre- and post-processing on the LiteRT interpreter (the `litert` backend).

Follows MediaPipe's face_detection graphs: SSD anchors, box and keypoint decoding
relative to anchors, sigmoid scores with clipping, weighted non-maximum suppression.
The frame is letterboxed into the square model input so faces keep their aspect
ratio, and results are mapped back to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from signage.vision.detection import Detection
from signage.vision.runtime import Delegate, Model

SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh, keeps exp() finite
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection


@dataclass(frozen=True)
class AnchorSpec:
    """The SsdAnchorsCalculator options of one BlazeFace variant."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # aspect ratio 1.0, plus the interpolated scale when enabled

    def anchors(self) -> np.ndarray:
        """(N, 2) anchor centres in [0, 1]; BlazeFace anchors all have size 1."""
        centres = []
        layer = 0
        while layer < len(self.strides):
            stride = self.strides[layer]
            # Consecutive layers with the same stride share one grid.
            same = 0
            while layer + same < len(self.strides) and self.strides[layer + same] == stride:
                same += 1
            cells = int(np.ceil(self.input_size / stride))
            ys, xs = np.mgrid[0:cells, 0:cells]
            grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
            centres.append(np.repeat(grid, same * self.anchors_per_layer, axis=0))
            layer += same
        return np.concatenate(centres).astype(np.float32)


SHORT_RANGE = AnchorSpec(input_size=128, strides=(8, 16, 16, 16), anchors_per_layer=2)
FULL_RANGE = AnchorSpec(input_size=192, strides=(4,), anchors_per_layer=1)


@dataclass(frozen=True)
class Letterbox:
    """How the frame sits inside the square input: input = frame * scale + offset."""

    scale: float
    offset_x: float
    offset_y: float
    size: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> Letterbox:
        scale = size / max(width, height)
        return cls(scale, (size - width * scale) / 2, (size - height * scale) / 2, size)

    def to_frame(self, normalised: np.ndarray) -> np.ndarray:
        """Map [..., 2] coordinates in [0, 1] of the input square to frame pixels."""
        offset = np.array([self.offset_x, self.offset_y], dtype=np.float32)
        return (normalised * self.size - offset) / self.scale


def letterbox(frame_bgr: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """RGB float input in [-1, 1], shape (1, size, size, 3), the frame centred with
    black bars. One bilinear warpAffine, as MediaPipe's ImageToTensorCalculator
    does with keep_aspect_ratio: both backends then see the same pixels."""
    height, width = frame_bgr.shape[:2]
    box = Letterbox.fit(width, height, size)
    matrix = np.array([[box.scale, 0, box.offset_x], [0, box.scale, box.offset_y]], np.float32)
    canvas = cv2.warpAffine(frame_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    tensor = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32)
    tensor *= 1.0 / 127.5
    tensor -= 1.0
    return tensor[np.newaxis], box


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
           input_size: int, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode anchors above `min_score`: boxes (N, 4) as x1, y1, x2, y2, keypoints
    (N, 6, 2), scores (N,), all normalised to the input square."""
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = raw_boxes.reshape(len(anchors), -1)[keep] / input_size
    centres = anchors[keep]
    xy = raw[:, 0:2] + centres
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([xy - half, xy + half], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, np.newaxis, :]
    return boxes, keypoints, scores[keep]


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = NMS_IOU) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-maximum suppression: each kept face is the
    score-weighted mean of the candidates overlapping the best one."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    remaining = np.arange(len(scores))
    kept = []
    while remaining.size:  # loops over faces found, never over anchors
        best = remaining[0]
        top_left = np.maximum(boxes[best, :2], boxes[remaining, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[remaining, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        overlap = inter / (areas[best] + areas[remaining] - inter + 1e-9)
        overlap[0] = 1.0  # the best always joins its own group, even a degenerate box
        group = remaining[overlap > iou_threshold]
        weights = scores[group][:, np.newaxis]
        total = weights.sum()
        box = (boxes[group] * weights).sum(axis=0) / total
        points = (keypoints[group] * weights[:, :, np.newaxis]).sum(axis=0) / total
        kept.append((box, points, float(scores[best])))
        remaining = remaining[overlap <= iou_threshold]
    return kept


class BlazeFaceDetector:
    """The `litert` backend: our own BlazeFace processing on the LiteRT interpreter."""

    def __init__(self, model_path: Path, spec: AnchorSpec | None = None, min_score: float = 0.5,
                 num_threads: int = 2, delegate: Delegate = "none", device: str = "auto",
                 load_delegate: Callable[..., object] | None = None):
        self.model = Model(model_path, num_threads=num_threads, delegate=delegate, device=device,
                           load_delegate=load_delegate)
        self.edgetpu = self.model.edgetpu
        size = self.model.input_shape[1]
        self.spec = spec or (SHORT_RANGE if size == SHORT_RANGE.input_size else FULL_RANGE)
        self.anchors = self.spec.anchors()
        self.min_score = min_score
        self.name = f"litert/{model_path.stem}"

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        tensor, box = letterbox(frame_bgr, self.spec.input_size)
        raw_boxes, raw_scores = self._invoke(tensor)
        boxes, keypoints, scores = decode(raw_boxes, raw_scores, self.anchors,
                                          self.spec.input_size, self.min_score)
        if not len(scores):
            return []
        kept = weighted_nms(boxes, keypoints, scores)
        # Map every kept face back to frame pixels at once (boxes as corner points).
        corners = box.to_frame(np.stack([k[0] for k in kept]).reshape(-1, 2, 2))
        points = box.to_frame(np.stack([k[1] for k in kept]))
        height, width = frame_bgr.shape[:2]
        corners = np.clip(corners, 0, [width, height]).tolist()
        faces = []
        for ((x1, y1), (x2, y2)), face_points, (_, _, score) in zip(corners, points.tolist(), kept):
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue  # a box entirely inside the letterbox bars
            faces.append(Detection(box=(x1, y1, x2 - x1, y2 - y1),
                                   keypoints=tuple(map(tuple, face_points)), score=score))
        return faces

    def _invoke(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = self.model.run(tensor)
        # Regressors have 16 values per anchor, classificators one.
        regressors, classificators = sorted(outputs, key=lambda out: -out.shape[-1])
        return regressors[0], classificators[0]
