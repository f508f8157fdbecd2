"""The `mediapipe` backend: MediaPipe Tasks FaceDetector on the same BlazeFace files.

MediaPipe refuses a float model without TFLite metadata, and the files we fetch have
none. We add, in memory, the minimum it reads: an RGB image input normalised with
mean 127.5 and std 127.5, i.e. to [-1, 1], written with the flatbuffer classes the
mediapipe wheel ships. Nothing is written to disk.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from signage.errors import ModelError
from signage.vision.detection import Detection

# MediaPipe logs through glog/absl on stderr; keep only errors.
os.environ.setdefault("GLOG_minloglevel", "2")

METADATA_NAME = "TFLITE_METADATA"


def lacks_atomics(cpuinfo: Path = Path("/proc/cpuinfo"), machine: str | None = None) -> bool:
    """True on an ARM CPU without ARMv8.1's atomics (a Raspberry Pi 4's Cortex-A72): the
    mediapipe wheel for aarch64 is built for them, and loading it there kills the process
    with SIGILL, which no exception handler sees. So we look before importing it."""
    if (machine or platform.machine()) != "aarch64":
        return False
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False  # nothing to tell from: let the import decide
    features = [line.partition(":")[2].split() for line in text.splitlines() if line.startswith("Features")]
    return bool(features) and not any("atomics" in flags for flags in features)


def with_image_metadata(model: bytes) -> bytes:
    """The model with a TFLITE_METADATA buffer describing its [-1, 1] RGB input."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))

    normalisation = meta.NormalizationOptionsT()
    normalisation.mean, normalisation.std = [127.5], [127.5]
    unit = meta.ProcessUnitT()
    unit.optionsType = meta.ProcessUnitOptions.NormalizationOptions
    unit.options = normalisation
    properties = meta.ImagePropertiesT()
    properties.colorSpace = meta.ColorSpaceType.RGB
    content = meta.ContentT()
    content.contentPropertiesType = meta.ContentProperties.ImageProperties
    content.contentProperties = properties
    image = meta.TensorMetadataT()
    image.name, image.content, image.processUnits = "image", content, [unit]

    subgraph = meta.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image]
    subgraph.outputTensorMetadata = []
    for name in ("regressors", "classificators"):
        tensor = meta.TensorMetadataT()
        tensor.name = name
        subgraph.outputTensorMetadata.append(tensor)
    metadata = meta.ModelMetadataT()
    metadata.name, metadata.subgraphMetadata = "blazeface", [subgraph]
    metadata.minParserVersion = "1.0.0"

    builder = flatbuffers.Builder(1024)
    builder.Finish(metadata.Pack(builder), file_identifier=b"M001")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(bytes(builder.Output()), dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(tree.buffers) - 1
    kept = [m for m in (tree.metadata or []) if _text(m.name) != METADATA_NAME]
    tree.metadata = kept + [entry]

    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


class MediaPipeDetector:
    """MediaPipe Tasks FaceDetector behind our FaceDetector contract. It runs its own
    LiteRT interpreter (the only one this backend loads) and chooses its own threads:
    the Tasks API has no thread count to pass."""

    def __init__(self, model_path: Path, min_score: float = 0.5):
        if lacks_atomics():
            raise ModelError("backend mediapipe cannot run on this CPU: mediapipe's ARM build needs ARMv8.1 atomics,"
                             " which this one (e.g. a Raspberry Pi 4's Cortex-A72) lacks; set vision.backend: litert")
        try:
            import mediapipe
            from mediapipe.tasks.python import BaseOptions, vision
        except ModuleNotFoundError as exc:
            raise ModelError(
                "backend mediapipe needs the mediapipe package: pip install mediapipe,"
                " or set vision.backend: litert"
            ) from exc
        self._mp = mediapipe
        model = model_path.read_bytes()
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=with_image_metadata(model)),
            min_detection_confidence=min_score,
        )
        try:
            self._detector = vision.FaceDetector.create_from_options(options)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"mediapipe cannot load {model_path.name}: {exc}") from exc
        self.name = f"mediapipe/{model_path.stem}"

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        height, width = frame_bgr.shape[:2]
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        result = self._detector.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        faces = []
        for found in result.detections:
            box = found.bounding_box
            points = tuple((k.x * width, k.y * height) for k in found.keypoints or ())
            faces.append(Detection(
                box=(float(box.origin_x), float(box.origin_y), float(box.width), float(box.height)),
                keypoints=points,
                score=float(found.categories[0].score),
            ))
        return sorted(faces, key=lambda face: -face.score)

    def close(self) -> None:
        detector, self._detector = self._detector, None
        if detector is not None:
            detector.close()
