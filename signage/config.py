"""Configuration models (pydantic). Every field has a default that works on a
fresh machine; unknown keys are errors so a typo never passes silently."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttentionConfig(Section):
    max_yaw: float = Field(30.0, ge=0, le=90, title="Looking: max |yaw|",
                           description="Degrees a head may turn sideways and still count as looking at the screen.")
    max_pitch: float = Field(30.0, ge=0, le=90, title="Looking: max |pitch|",
                             description="Degrees a head may tilt up or down and still count as looking.")


class TrackerSettings(Section):
    confirm_hits: int = Field(3, ge=1, le=30, description="Consecutive detections before a face counts as a person.")
    max_gap: float = Field(0.7, ge=0, le=10, description="Seconds a person may be missed and keep their track.")


class VisionConfig(Section):
    backend: Literal["litert", "mediapipe"] = Field(
        "litert", description="litert: our BlazeFace processing on LiteRT (the only one for Coral); "
        "mediapipe: MediaPipe Tasks FaceDetector on the same model.")
    model: Literal["short", "full", "full_sparse"] = Field(
        "full", description="BlazeFace variant: full range for viewers 1-6 m away, short range for selfie distance.")
    threads: int = Field(2, ge=1, le=16, description="Interpreter threads (XNNPACK).")
    delegate: Literal["none", "edgetpu"] = Field(
        "none", description="edgetpu loads libedgetpu.so.1 and falls back to the CPU when it is absent.")
    min_score: float = Field(0.5, gt=0, lt=1, description="Detections below this are ignored; faces are counted from it.")
    start_score: float = Field(0.7, gt=0, lt=1, description="A person's track starts only from a detection this confident.")
    expressions: bool = Field(
        True, description="Classify facial expressions. Switch off where emotion recognition is not allowed "
        "(workplaces and schools under the EU AI Act): the model is then not even loaded.")
    camera_hfov: float = Field(66.0, gt=10, lt=180, description="Camera horizontal field of view in degrees, for distance.")
    attention: AttentionConfig = AttentionConfig()
    tracker: TrackerSettings = TrackerSettings()

    @model_validator(mode="after")
    def _start_above_min(self) -> "VisionConfig":
        if self.start_score < self.min_score:
            raise ValueError(f"vision.start_score ({self.start_score}) must be >= vision.min_score ({self.min_score})")
        return self
