"""The vision stage built as the kiosk builds it: model files resolved and verified by
the manifest (`signage.modelfiles`), then given to vision, which never reads the manifest."""

from __future__ import annotations

from pathlib import Path

from signage import modelfiles
from signage.vision.pipeline import Pipeline, make_detector


def detector_for(settings, directory: Path, **kwargs):
    detector_file, _ = modelfiles.vision_files(settings.model, False, directory)
    return make_detector(settings, detector_file, **kwargs)


def pipeline_for(settings, directory: Path) -> Pipeline:
    return Pipeline.from_config(settings, *modelfiles.vision_files(settings.model, settings.expressions, directory))
