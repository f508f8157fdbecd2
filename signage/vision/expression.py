"""7-class facial expression classifier (FER mini-Xception, 64x64 grayscale).

Faces are cut as squares around the detector's box, expanded so the whole face and
a little context are in view as in the FER2013 training crops, converted to gray,
resized to 64x64 and scaled to [-1, 1]. All faces of a frame go through the model
in one batched invoke. The crops live only inside `classify`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from signage.vision.runtime import Delegate, Model

# The model's output order.
INPUT_SIZE = 64
MAX_FACES = 10  # one frame's batch; more faces than this are rare at a kiosk


def square_crop(gray: np.ndarray, box: tuple[float, float, float, float], expand: float) -> np.ndarray:
    """The square region around `box`, `expand` times its larger side, resized to the
    model input; parts outside the frame are filled by replicating the border."""
    x, y, w, h = box
    side = max(w, h) * expand
    cx, cy = x + w / 2, y + h / 2
    scale = INPUT_SIZE / side
    # Map the square [cx - side/2, cy - side/2, side, side] onto the 64x64 input.
    matrix = np.array([[scale, 0, INPUT_SIZE / 2 - cx * scale],
                       [0, scale, INPUT_SIZE / 2 - cy * scale]], dtype=np.float32)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, matrix, (INPUT_SIZE, INPUT_SIZE), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)


class ExpressionClassifier:
    """Probabilities over EXPRESSIONS for each face box of a frame."""

    def __init__(self, model_path: Path, expand: float = 1.4, num_threads: int = 2,
                 delegate: Delegate = "none"):
        self.expand = expand
        self._num_threads, self._delegate = num_threads, delegate
        self._bytes = model_path.read_bytes()
        # One interpreter per batch size, made on first use: the face count changes from
        # frame to frame, and re-allocating one interpreter's tensors each time costs more
        # than the invoke itself.
        self._models: dict[int, Model] = {1: self._model()}

    def model_for(self, batch: int) -> Model:
        """The interpreter sized for `batch` faces (at most MAX_FACES of them)."""
        if batch not in self._models:
            self._models[batch] = self._model(batch)
        return self._models[batch]

    def _model(self, batch: int | None = None) -> Model:
        return Model(self._bytes, num_threads=self._num_threads, delegate=self._delegate, batch=batch)

    def batch(self, frame_bgr: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
        """Model input (N, 64, 64, 1) in [-1, 1] for the first MAX_FACES boxes."""
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        crops = np.stack([square_crop(gray, box, self.expand) for box in boxes[:MAX_FACES]])
        tensor = crops.astype(np.float32)[..., np.newaxis]
        tensor *= 2.0 / 255.0
        tensor -= 1.0
        return tensor

    def classify(self, frame_bgr: np.ndarray,
                 boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, ...]]:
        """One probability tuple per box (boxes past MAX_FACES get none)."""
        if not boxes:
            return []
        tensor = self.batch(frame_bgr, boxes)
        (probabilities,) = self.model_for(len(tensor)).run(tensor)
        return [tuple(float(p) for p in row) for row in probabilities]
